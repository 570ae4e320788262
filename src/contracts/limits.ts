// Limits of the HTTP API that its clients (the CLI) check before they send. The API's schemas
// enforce them; this is their one definition.

/** Records per POST /v1/sources/:sourceId/records. */
export const MAX_BATCH = 1000;
/** Bytes of one record's payload as JSON. */
export const MAX_PAYLOAD_BYTES = 256 * 1024;
