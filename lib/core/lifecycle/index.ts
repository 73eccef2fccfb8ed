/** The job lifecycle (SPEC §4): pure rules and transitions; the shells in lib/core apply them. */
export * from './replies.js';
export * from './orphans.js';
export * from './rules.js';
export * from './transitions.js';
