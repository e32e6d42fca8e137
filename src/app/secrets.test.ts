import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadCardTokenKey, loadMacKeys } from './secrets.js'

const MAC_KEY = 'ABCDEF0123456789FEDCBA9876543210'
const CARD_TOKEN_KEY = '0123456789abcdef'.repeat(4)

/** The error as the CLI prints it: the message, then the cause's message when there is one. */
function printed(run: () => unknown): string {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(Error)
    const cause = (error as Error).cause
    return `${String(error)}${cause instanceof Error ? ` (${cause.message})` : ''}`
  }
  return expect.unreachable('the file is refused')
}

/** Any four consecutive characters of the key found in the text, path excepted. */
function keyFragmentsIn(text: string, key: string, path: string): string[] {
  const scrubbed = text.replaceAll(path, '<path>').toUpperCase()
  return Array.from({ length: key.length - 3 }, (_, i) => key.slice(i, i + 4).toUpperCase()).filter(
    (part) => scrubbed.includes(part),
  )
}

function writeTemp(name: string, text: string): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tg-secrets-'))
  const path = join(dir, name)
  writeFileSync(path, text)
  return { dir, path }
}

describe('MAC keys file', () => {
  it('reads terminal ids to keys', () => {
    const { path } = writeTemp('mac-keys.json', JSON.stringify({ '10000001': MAC_KEY }))
    expect([...loadMacKeys(path).keys()]).toEqual(['10000001'])
  })

  it.each([
    ['an unquoted key', `{"10000001": ${MAC_KEY}}`, 'line 1, column 14'],
    [
      'a missing comma',
      `{\n  "10000001": "${MAC_KEY}"\n  "10000002": "${MAC_KEY}"\n}`,
      'line 3, column 3',
    ],
    ['a truncated file', `{"10000001": "${MAC_KEY}`, 'line 1, column 47'],
    ['a trailing comma', `{"10000001": "${MAC_KEY}",}`, 'line 1, column 49'],
  ])('refuses %s with the position only, never a digit of the key', (_name, text, position) => {
    const { path } = writeTemp('mac-keys.json', text)
    const error = printed(() => loadMacKeys(path))
    expect(error).toContain(
      `TOLLGATE_ISO_MAC_KEYS_FILE: ${path} is not valid JSON (syntax error at ${position})`,
    )
    expect(keyFragmentsIn(error, MAC_KEY, path)).toEqual([])
  })

  it('refuses a key of the wrong form without printing it', () => {
    const { path } = writeTemp(
      'mac-keys.json',
      JSON.stringify({ '10000001': MAC_KEY.slice(0, 30) }),
    )
    const error = printed(() => loadMacKeys(path))
    expect(error).toContain('terminal 10000001: expected 16 or 32 hex characters')
    expect(keyFragmentsIn(error, MAC_KEY, path)).toEqual([])
  })

  it('names a file it cannot read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-secrets-'))
    expect(() => loadMacKeys(join(dir, 'missing.json'))).toThrow(
      /TOLLGATE_ISO_MAC_KEYS_FILE: cannot read .*missing\.json/,
    )
  })
})

describe('card-token key file', () => {
  it('refuses a malformed secrets.json with the position only, never a digit of the key', () => {
    const { dir, path } = writeTemp('secrets.json', `{\n  "cardTokenKey": ${CARD_TOKEN_KEY}\n}\n`)
    const error = printed(() => loadCardTokenKey(dir, undefined))
    expect(error).toContain(`${path}: not valid JSON (syntax error at line 2, column 20)`)
    expect(error).toContain('restore it from backup')
    expect(keyFragmentsIn(error, CARD_TOKEN_KEY, path)).toEqual([])
  })

  it.each([
    ['null', 'null'],
    ['an array', `["${CARD_TOKEN_KEY}"]`],
  ])('refuses %s instead of an object, without printing it', (_name, text) => {
    const { dir, path } = writeTemp('secrets.json', text)
    const error = printed(() => loadCardTokenKey(dir, undefined))
    expect(error).toContain(`${path}: expected a JSON object with cardTokenKey`)
    expect(keyFragmentsIn(error, CARD_TOKEN_KEY, path)).toEqual([])
  })

  it('reads a well-formed secrets.json', () => {
    const { dir } = writeTemp('secrets.json', JSON.stringify({ cardTokenKey: CARD_TOKEN_KEY }))
    expect(loadCardTokenKey(dir, undefined).toString('hex')).toBe(CARD_TOKEN_KEY)
  })
})
