import { UsageError, type Command } from './io.js';

export const setup: Command = async () => {
  throw new UsageError('`sketchflow setup` is not implemented yet');
};
