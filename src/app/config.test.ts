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
    expect(() => loadConfig({ TOLLGATE_CONFIG: file })).toThrow(/not valid JSON/)
    expect(() => loadConfig({ TOLLGATE_CONFIG: join(dir, 'missing.json') })).toThrow(/cannot read/)
  })
})
