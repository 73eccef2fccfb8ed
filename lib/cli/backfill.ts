import { UsageError, type Command } from './io.js';

export const backfill: Command = async () => {
  throw new UsageError('`sketchflow backfill` is not implemented yet');
};
