import { UsageError, type Command } from './io.js';

export const local: Command = async () => {
  throw new UsageError('`sketchflow local` is not implemented yet');
};
