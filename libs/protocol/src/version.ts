/**
 * Version of the public client protocol this library describes.
 *
 * Sent to clients in `session.created` so they can tell which extensions the server speaks. The major
 * number changes only if a seed shape ever changes (it must not); the minor number grows with additive
 * extensions, which clients built for an older minor ignore safely.
 */
export const PROTOCOL_VERSION = '1.0';
