export { api, unwrap, ApiError, describeError, createAuthFetch } from "./client";
export type { components, paths } from "./schema";
export * as session from "./session";

import type { components } from "./schema";
export type Schemas = components["schemas"];
