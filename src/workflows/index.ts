// The workflow bundle's entry point: every workflow type the `records` task queue serves.
export { recordWorkflow } from './record';
