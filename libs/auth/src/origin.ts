/**
 * Origin allowlist for browser upgrades: the defence against cross-site WebSocket hijacking, where a page
 * on another site opens a socket to the gateway and the browser attaches the victim's cookies. Browsers
 * always send `Origin` on a WebSocket handshake and scripts cannot forge it; non-browser clients usually
 * send none, and they authenticate with a token anyway.
 */
export interface OriginAllowlist {
  /** `*` was listed: every origin is allowed (development only). */
  readonly any: boolean;
  /** Normalised exact origins (`https://app.example.com`, `http://localhost:5173`, `null`). */
  readonly exact: ReadonlySet<string>;
  /** `*.example.com` patterns: any subdomain, at any depth, of `suffix`, on one scheme and port. */
  readonly wildcards: readonly OriginWildcard[];
}

export interface OriginWildcard {
  /** `https:` or `http:`. */
  readonly protocol: string;
  /** Registrable part after `*.`, lowercased (`example.com`). */
  readonly suffix: string;
  /** Port as the URL API reports it: `''` for the scheme's default port. */
  readonly port: string;
}

const WILDCARD = /^(?:(https?):\/\/)?\*\.([a-z0-9-]+(?:\.[a-z0-9-]+)+)(?::(\d{1,5}))?$/i;

/**
 * Compiles the allowlist once at start (entries comma- or space-separated when given as one string):
 * - `*` allows every origin;
 * - an exact origin such as `https://app.example.com` or `http://localhost:5173` (default ports may be
 *   written or not; case does not matter); `null` allows the opaque origin of sandboxed frames and files;
 * - `*.example.com` allows every subdomain of example.com over **https** (not example.com itself: list it
 *   too if needed); write `http://*.example.test:8080` to allow another scheme or port.
 * Throws on an entry that is none of these, so a typo fails at start instead of locking browsers out.
 */
export function compileOriginAllowlist(entries: string | readonly string[]): OriginAllowlist {
  const list = typeof entries === 'string' ? entries.split(/[\s,]+/) : entries;
  let any = false;
  const exact = new Set<string>();
  const wildcards: OriginWildcard[] = [];
  for (const raw of list) {
    const entry = raw.trim();
    if (entry === '') continue;
    if (entry === '*') {
      any = true;
      continue;
    }
    if (entry.toLowerCase() === 'null') {
      exact.add('null');
      continue;
    }
    const wild = WILDCARD.exec(entry);
    if (wild) {
      const protocol = `${(wild[1] ?? 'https').toLowerCase()}:`;
      const port = normalisePort(protocol, wild[3] ?? '');
      wildcards.push({ protocol, suffix: wild[2]!.toLowerCase(), port });
      continue;
    }
    // `new URL` accepts `*` in a host name, so a malformed wildcard must not fall through as exact.
    const origin = entry.includes('*') ? undefined : exactOrigin(entry);
    if (origin === undefined) {
      throw new Error(
        `invalid allowed origin ${JSON.stringify(entry)}: use *, null, scheme://host[:port] or *.domain`,
      );
    }
    exact.add(origin);
  }
  return { any, exact, wildcards };
}

/**
 * Whether a browser from `origin` may open a socket. A missing or empty `Origin` (a non-browser client)
 * is allowed: the allowlist protects browser users' ambient credentials, and such clients have none to
 * steal. Pass a compiled allowlist on hot paths; a raw list is compiled on every call.
 */
export function isOriginAllowed(
  origin: string | undefined,
  allowlist: OriginAllowlist | string | readonly string[],
): boolean {
  if (origin === undefined || origin === '') return true;
  const list = isCompiled(allowlist) ? allowlist : compileOriginAllowlist(allowlist);
  if (list.any) return true;
  if (origin === 'null') return list.exact.has('null');
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (!isBareOrigin(url)) return false;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    // Non-special schemes (browser extensions, apps) have an opaque URL origin: compare them literally.
    return list.exact.has(origin.toLowerCase());
  }
  if (list.exact.has(url.origin)) return true;
  const host = url.hostname;
  for (const w of list.wildcards) {
    if (
      w.protocol === url.protocol &&
      w.port === url.port &&
      host.length > w.suffix.length + 1 &&
      host.endsWith(`.${w.suffix}`)
    ) {
      return true;
    }
  }
  return false;
}

/** The normalised form of an exact allowlist entry, or undefined when it is not a bare origin. */
function exactOrigin(entry: string): string | undefined {
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return undefined;
  }
  // `new URL` accepts far more than an origin; an entry with a path or credentials is a config mistake.
  if (!isBareOrigin(url)) return undefined;
  if (url.protocol === 'http:' || url.protocol === 'https:') return url.origin;
  return entry.replace(/\/$/, '').toLowerCase();
}

function isCompiled(list: OriginAllowlist | string | readonly string[]): list is OriginAllowlist {
  return typeof list === 'object' && !Array.isArray(list);
}

function isBareOrigin(url: URL): boolean {
  return (
    url.username === '' &&
    url.password === '' &&
    (url.pathname === '' || url.pathname === '/') &&
    url.search === '' &&
    url.hash === '' &&
    url.host !== ''
  );
}

function normalisePort(protocol: string, port: string): string {
  if ((protocol === 'https:' && port === '443') || (protocol === 'http:' && port === '80')) return '';
  return port;
}
