// remote/index.ts: engines served over HTTP (a PRM, an OpenAI-compatible completions server).
export { HttpClient, RemoteError } from './http';
export type { HttpOptions } from './http';
export { RemotePRM } from './prm';
export type { CustomPrmFormat, PrmItem, RemotePRMOptions } from './prm';
export { CompletionsClient } from './completions';
export type { Completion, CompletionRequest, CompletionsOptions } from './completions';
