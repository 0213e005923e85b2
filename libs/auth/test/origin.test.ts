import { describe, expect, it } from 'vitest';
import { compileOriginAllowlist, isOriginAllowed } from '../src/index.js';

describe('isOriginAllowed', () => {
  const list = compileOriginAllowlist(
    'https://app.example.com, http://localhost:5173, *.customer.example, http://*.dev.test:8080',
  );

  it('allows a request without Origin (a non-browser client)', () => {
    expect(isOriginAllowed(undefined, list)).toBe(true);
    expect(isOriginAllowed('', list)).toBe(true);
  });

  it('allows exact origins, normalising case and default ports', () => {
    expect(isOriginAllowed('https://app.example.com', list)).toBe(true);
    expect(isOriginAllowed('https://APP.Example.com:443', list)).toBe(true);
    expect(isOriginAllowed('http://localhost:5173', list)).toBe(true);
  });

  it('refuses other schemes, ports and hosts of an exact origin', () => {
    expect(isOriginAllowed('http://app.example.com', list)).toBe(false);
    expect(isOriginAllowed('https://app.example.com:8443', list)).toBe(false);
    expect(isOriginAllowed('http://localhost:3000', list)).toBe(false);
    expect(isOriginAllowed('https://evil.example', list)).toBe(false);
    expect(isOriginAllowed('https://app.example.com.evil.example', list)).toBe(false);
  });

  it('allows subdomains at any depth for a wildcard, over https only unless the entry says otherwise', () => {
    expect(isOriginAllowed('https://a.customer.example', list)).toBe(true);
    expect(isOriginAllowed('https://a.b.customer.example', list)).toBe(true);
    expect(isOriginAllowed('http://a.customer.example', list)).toBe(false);
    expect(isOriginAllowed('https://a.customer.example:8443', list)).toBe(false);
    expect(isOriginAllowed('http://x.dev.test:8080', list)).toBe(true);
    expect(isOriginAllowed('http://x.dev.test', list)).toBe(false);
  });

  it('does not let a wildcard match its bare domain or a look-alike suffix', () => {
    expect(isOriginAllowed('https://customer.example', list)).toBe(false);
    expect(isOriginAllowed('https://evilcustomer.example', list)).toBe(false);
    expect(isOriginAllowed('https://customer.example.evil.test', list)).toBe(false);
  });

  it('refuses "null" and malformed origins unless null is listed', () => {
    expect(isOriginAllowed('null', list)).toBe(false);
    expect(isOriginAllowed('null', ['null'])).toBe(true);
    expect(isOriginAllowed('not a url', list)).toBe(false);
    expect(isOriginAllowed('https://app.example.com/path', list)).toBe(false);
    expect(isOriginAllowed('https://user@app.example.com', list)).toBe(false);
  });

  it('allows everything with *', () => {
    expect(isOriginAllowed('https://anything.test', ['*'])).toBe(true);
    expect(isOriginAllowed('null', '*')).toBe(true);
  });

  it('compares non-web schemes literally', () => {
    expect(isOriginAllowed('chrome-extension://abcdef', ['chrome-extension://abcdef'])).toBe(true);
    expect(isOriginAllowed('chrome-extension://other', ['chrome-extension://abcdef'])).toBe(false);
  });

  it('refuses everything but origin-less clients with an empty list', () => {
    expect(isOriginAllowed('https://app.example.com', [])).toBe(false);
    expect(isOriginAllowed(undefined, [])).toBe(true);
  });

  it('rejects entries that are not origins at start', () => {
    expect(() => compileOriginAllowlist(['https://app.example.com/login'])).toThrow(/invalid allowed origin/);
    expect(() => compileOriginAllowlist(['app.example.com'])).toThrow(/invalid allowed origin/);
    expect(() => compileOriginAllowlist(['https://*.com.*'])).toThrow(/invalid allowed origin/);
    expect(() => compileOriginAllowlist(['*.com'])).toThrow(/invalid allowed origin/);
  });
});
