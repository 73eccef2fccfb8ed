import { UsageError, type Command } from './io.js';

export const status: Command = async () => {
  throw new UsageError('`sketchflow status` is not implemented yet');
};
