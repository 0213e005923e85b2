/**
 * True when a URL's host is this machine: 127.0.0.0/8, `[::1]` or `localhost`, as `URL.hostname` spells them
 * (the URL parser has already normalised `127.1`, `0x7f.0.0.1` and `[0:0::1]`). Plain `http://`/`ws://` is
 * accepted for such hosts only (local test servers), since nobody sits on the path to read a credential.
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  if (host === 'localhost' || host === '[::1]') return true;
  const octets = host.split('.');
  return (
    octets.length === 4 && octets[0] === '127' && octets.every((o) => /^\d{1,3}$/.test(o) && Number(o) <= 255)
  );
}
