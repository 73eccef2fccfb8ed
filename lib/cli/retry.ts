import { UsageError, type Command } from './io.js';

export const retry: Command = async () => {
  throw new UsageError('`sketchflow retry` is not implemented yet');
};
