/** The seed's HTTP base path; the gateway forwards `…/status` and `…/health` here. */
export const SEED_BASE = '/api/v1/streaming/realtime';

/** Where the OpenAPI document of the status API's routes is served. */
export const OPENAPI_PATH = '/openapi.json';

/** Version reported in the OpenAPI document. */
export const STATUS_API_VERSION = '0.1.0';
