// The workflow bundle's entry point: every workflow type the worker serves.
export { cutover } from './cutover';
export { plan } from './plan';
