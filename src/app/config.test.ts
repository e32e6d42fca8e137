import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from './config.js'

describe('configuration', () => {
  it('has defaults for everything but secrets, and is frozen', () => {
    const config = loadConfig({})
    expect(config.dataDir).toBe('./data')
    expect(config.httpHost).toBe('127.0.0.1')
    expect(config.httpPort).toBe(8080)
    expect(config.adminToken).toBeUndefined()
    expect(config.cardTokenKey).toBeUndefined()
    expect(Object.isFrozen(config)).toBe(true)
  })

  it('reads the environment', () => {
    const config = loadConfig({
      TOLLGATE_DATA_DIR: '/srv/tg',
      TOLLGATE_HTTP_PORT: '9001',
      TOLLGATE_HTTP_HOST: '0.0.0.0',
      TOLLGATE_ADMIN_TOKEN: 'a-long-enough-admin-token',
    })
    expect(config).toMatchObject({
      dataDir: '/srv/tg',
      httpPort: 9001,
      httpHost: '0.0.0.0',
      adminToken: 'a-long-enough-admin-token',
    })
  })

  it('names the bad key and the expected form', () => {
    expect(() => loadConfig({ TOLLGATE_HTTP_PORT: 'eighty' })).toThrow(ConfigError)
    expect(() => loadConfig({ TOLLGATE_HTTP_PORT: '70000' })).toThrow(
      /TOLLGATE_HTTP_PORT \(config key "httpPort"\)/,
    )
    expect(() => loadConfig({ TOLLGATE_QUEUE_DEPTH_MAX: '0' })).toThrow(/TOLLGATE_QUEUE_DEPTH_MAX/)
    expect(() => loadConfig({ TOLLGATE_LOG_LEVEL: 'loud' })).toThrow(/TOLLGATE_LOG_LEVEL/)
  })

  it('never prints a secret it refuses', () => {
    try {
      loadConfig({ TOLLGATE_ADMIN_TOKEN: 'short' })
      expect.unreachable('a short token is refused')
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError)
      expect(String(error)).toMatch(/TOLLGATE_ADMIN_TOKEN/)
      expect(String(error)).not.toContain('short"')
    }
    expect(() => loadConfig({ TOLLGATE_CARD_TOKEN_KEY: 'not-hex' })).toThrow(/64 to 256 hex/)
  })

  it('reads a JSON file, lets the environment win, and refuses unknown keys', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-config-'))
    const file = join(dir, 'tollgate.json')
    writeFileSync(file, JSON.stringify({ httpPort: 9100, holdExpiryHours: 48 }))
    expect(loadConfig({ TOLLGATE_CONFIG: file })).toMatchObject({
      httpPort: 9100,
      holdExpiryHours: 48,
    })
    expect(loadConfig({ TOLLGATE_CONFIG: file, TOLLGATE_HTTP_PORT: '9200' }).httpPort).toBe(9200)
    writeFileSync(file, JSON.stringify({ httpPrt: 9100 }))
    expect(() => loadConfig({ TOLLGATE_CONFIG: file })).toThrow(/httpPrt/)
    writeFileSync(file, '{ not json')
    expect(() => loadConfig({ TOLLGATE_CONFIG: file })).toThrow(
      /not valid JSON \(syntax error at line 1, column 3\)/,
    )
    expect(() => loadConfig({ TOLLGATE_CONFIG: join(dir, 'missing.json') })).toThrow(/cannot read/)
  })

  it('reads every integer setting from decimal digits, negatives only where allowed', () => {
    const config = loadConfig({
      TOLLGATE_HTTP_PORT: '0',
      TOLLGATE_ISO_PORT: '08583',
      TOLLGATE_UTC_OFFSET_MINUTES: '-300',
      TOLLGATE_HOLD_EXPIRY_HOURS: '720',
      TOLLGATE_QUEUE_DEPTH_MAX: '1000000',
      TOLLGATE_BATCH_SIZE_MAX: '1',
      TOLLGATE_RISK_VELOCITY_KEYS_MAX: '500000',
      TOLLGATE_ISSUER_POOL_SIZE: '64',
      TOLLGATE_ISSUER_ECHO_INTERVAL_MS: '2000',
      TOLLGATE_HTTP_BODY_LIMIT_BYTES: '16384',
      TOLLGATE_HTTP_REQUEST_TIMEOUT_MS: '10000',
      TOLLGATE_HTTP_CONNECTIONS_MAX: '10000',
      TOLLGATE_EXPIRY_SWEEP_INTERVAL_MS: '1000',
      TOLLGATE_ISO_FRAME_BYTES_MAX: '4096',
      TOLLGATE_ISO_CONNECTIONS_MAX: '4',
      TOLLGATE_ISO_IN_FLIGHT_PER_CONNECTION_MAX: '32',
      TOLLGATE_ISO_IDLE_TIMEOUT_MS: '300000',
      TOLLGATE_ISO_HANDLER_TIMEOUT_MS: '30000',
    })
    expect(config).toMatchObject({
      httpPort: 0,
      isoPort: 8583,
      utcOffsetMinutes: -300,
      queueDepthMax: 1_000_000,
      batchSizeMax: 1,
      issuerPoolSize: 64,
      isoConnectionsMax: 4,
    })
    expect(loadConfig({ TOLLGATE_UTC_OFFSET_MINUTES: '840' }).utcOffsetMinutes).toBe(840)
  })

  it.each([
    ['a blank', ' '],
    ['spaces around digits', ' 8080 '],
    ['hexadecimal', '0x1F90'],
    ['an exponent', '1e3'],
    ['a fraction', '8080.0'],
    ['a plus sign', '+8080'],
    ['a minus sign on a setting that cannot be negative', '-1'],
    ['words', 'eighty'],
    ['Infinity', 'Infinity'],
  ])('refuses %s in an integer environment variable, naming it and the form', (_name, value) => {
    expect(() => loadConfig({ TOLLGATE_HTTP_PORT: value })).toThrow(
      new RegExp(
        'TOLLGATE_HTTP_PORT \\(config key "httpPort"\\): expected an integer from 0 to 65535, ' +
          'written as decimal digits \\(got ' +
          JSON.stringify(value).replace(/[.+]/g, '\\$&') +
          '\\)',
      ),
    )
  })

  it('refuses out-of-range digits and a signed offset that is not digits', () => {
    expect(() => loadConfig({ TOLLGATE_HTTP_PORT: '65536' })).toThrow(
      /TOLLGATE_HTTP_PORT .*from 0 to 65535, written as decimal digits \(got "65536"\)/,
    )
    expect(() => loadConfig({ TOLLGATE_UTC_OFFSET_MINUTES: '-841' })).toThrow(
      /TOLLGATE_UTC_OFFSET_MINUTES .*from -840 to 840, written as decimal digits \(optionally with a leading -\)/,
    )
    expect(() => loadConfig({ TOLLGATE_UTC_OFFSET_MINUTES: '--5' })).toThrow(
      /TOLLGATE_UTC_OFFSET_MINUTES/,
    )
    expect(() => loadConfig({ TOLLGATE_ISO_PORT: '99999999999999999999' })).toThrow(
      /TOLLGATE_ISO_PORT/,
    )
  })

  it('names every bad environment variable at once, and a bad one does not fall back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-config-'))
    const file = join(dir, 'tollgate.json')
    writeFileSync(file, JSON.stringify({ httpPort: 9100 }))
    try {
      loadConfig({ TOLLGATE_CONFIG: file, TOLLGATE_HTTP_PORT: ' ', TOLLGATE_ISO_PORT: '1e3' })
      expect.unreachable('bad integers are refused')
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError)
      const text = String(error)
      expect(text).toMatch(/TOLLGATE_HTTP_PORT .*\(got " "\)/)
      expect(text).toMatch(/TOLLGATE_ISO_PORT .*\(got "1e3"\)/)
      expect(text.match(/TOLLGATE_HTTP_PORT/g)).toHaveLength(1)
    }
  })

  it.each([
    ['true', true],
    ['false', false],
    ['null', null],
    ['an array', [5]],
    ['a string of digits', '8080'],
    ['a fraction', 80.5],
    ['an object', { port: 80 }],
    ['a number out of range', 70_000],
  ])('refuses %s as an integer in the JSON file, naming the key and the form', (_name, value) => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-config-'))
    const file = join(dir, 'tollgate.json')
    writeFileSync(file, JSON.stringify({ httpPort: value }))
    expect(() => loadConfig({ TOLLGATE_CONFIG: file })).toThrow(
      new RegExp(
        'TOLLGATE_HTTP_PORT \\(config key "httpPort"\\): expected a JSON integer from 0 to 65535 ' +
          '\\(a number, not a string, boolean, null or array\\) \\(got ' +
          JSON.stringify(value).replace(/[.[\]{}]/g, '\\$&') +
          '\\)',
      ),
    )
  })

  it('accepts JSON integers in the file, negatives where allowed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-config-'))
    const file = join(dir, 'tollgate.json')
    writeFileSync(file, '{"httpPort": 0, "utcOffsetMinutes": -300, "queueDepthMax": 1000.0}')
    expect(loadConfig({ TOLLGATE_CONFIG: file })).toMatchObject({
      httpPort: 0,
      utcOffsetMinutes: -300,
      queueDepthMax: 1000,
    })
  })

  it('names unknown keys in the file, without their values', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-config-'))
    const file = join(dir, 'tollgate.json')
    writeFileSync(
      file,
      JSON.stringify({ httpPrt: 9100, adminTokn: 'a-secret-admin-token-value', '': 1 }),
    )
    try {
      loadConfig({ TOLLGATE_CONFIG: file })
      expect.unreachable('unknown keys are refused')
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError)
      const text = String(error)
      expect(text).toContain(`config key "httpPrt" in ${file}: not a Tollgate setting`)
      expect(text).toContain(`config key "adminTokn" in ${file}: not a Tollgate setting`)
      expect(text).toContain(`config key "" in ${file}: not a Tollgate setting`)
      expect(text).not.toContain('a-secret-admin-token-value')
      expect(text).not.toContain('9100')
      expect(text).not.toContain('undefined')
    }
  })

  it('never quotes a config file that is not valid JSON (it may hold the admin token)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-config-'))
    const file = join(dir, 'tollgate.json')
    const token = 'a-secret-admin-token-value'
    writeFileSync(file, `{\n  "httpPort": 9100,\n  "adminToken": ${token}\n}`)
    try {
      loadConfig({ TOLLGATE_CONFIG: file })
      expect.unreachable('malformed JSON is refused')
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError)
      const text = `${String(error)} ${String((error as Error).cause)}`
      expect(text).toContain(`TOLLGATE_CONFIG: ${file} is not valid JSON`)
      expect(text).toContain('line 3, column 17')
      for (let i = 0; i + 4 <= token.length; i += 1)
        expect(text).not.toContain(token.slice(i, i + 4))
    }
  })
})
