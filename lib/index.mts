// index.mts: the ES module entry; re-exports the CommonJS build so both share one addon.
export * from './index.js';
