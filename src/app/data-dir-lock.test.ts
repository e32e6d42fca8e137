import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DataDirInUse, LOCK_FILE, lockDataDir } from './data-dir-lock.js'

describe('one Tollgate per data directory', () => {
  let dir = ''
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-lock-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  /** A process id that surely runs no more: a child that has exited. */
  const deadPid = (): number => {
    const child = spawnSync(process.execPath, ['-e', 'process.pid'])
    expect(child.pid).toBeGreaterThan(0)
    return child.pid ?? 0
  }

  it('takes the lock, and releases only its own', () => {
    const lock = lockDataDir(dir)
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(process.pid))
    lock.release()
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false)
    lock.release()
  })

  it('refuses while another running process holds it, naming it', () => {
    // The parent of this test process is running.
    writeFileSync(join(dir, LOCK_FILE), `${process.ppid}\n`)
    expect(() => lockDataDir(dir)).toThrow(DataDirInUse)
    expect(() => lockDataDir(dir)).toThrow(`another Tollgate (process ${process.ppid})`)
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(process.ppid))
  })

  it('takes over a lock left by a process that is gone (a crash), or an unreadable one', () => {
    writeFileSync(join(dir, LOCK_FILE), `${deadPid()}\n`)
    lockDataDir(dir).release()
    writeFileSync(join(dir, LOCK_FILE), 'garbage')
    const lock = lockDataDir(dir)
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(process.pid))
    lock.release()
  })
})
