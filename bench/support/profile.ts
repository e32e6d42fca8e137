/**
 * The CPU profile summary of `--profile`: the server runs under `node --cpu-prof` (one profile
 * per thread, written into its data directory at exit) and the measured window is cut out of
 * each profile, then summarised as self time by area and by function.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { increment, type MeasureWindow } from './recorder.js'

const PROFILE_AREAS_SHOWN = 15
const PROFILE_FUNCTIONS_SHOWN = 25

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
}

interface CpuProfile {
  readonly nodes: readonly { readonly id: number; readonly callFrame: CallFrame }[]
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
  readonly startTime: number
}

/** Where a frame's code lives: a package, a Tollgate directory, a Node module or the VM. */
function areaOf(frame: CallFrame): string {
  const packaged = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(frame.url)
  if (packaged?.[1] !== undefined) return packaged[1]
  // dist/src/core/pipeline/x.js: "tollgate core/pipeline"; dist/src/core/x.js: "tollgate core".
  const own =
    /\/dist\/src\/([^/]+\/[^/.]+)\//.exec(frame.url) ?? /\/dist\/src\/([^/]+)\//.exec(frame.url)
  if (own?.[1] !== undefined) return `tollgate ${own[1]}`
  if (frame.url.startsWith('node:')) return frame.url.split('/')[0] ?? frame.url
  if (frame.url === '') return frame.functionName.startsWith('(') ? frame.functionName : 'native'
  return 'other'
}

function functionOf(frame: CallFrame): string {
  const name = frame.functionName === '' ? '(anonymous)' : frame.functionName
  if (frame.url === '') return name
  return `${name} ${frame.url.replace(/^.*\/(node_modules|dist)\//, '')}:${frame.lineNumber + 1}`
}

/**
 * Self time by area and by function over the measured window. V8 stamps samples with the same
 * monotonic clock as process.hrtime on Linux, so the window can be cut out of the profile.
 */
export function summariseProfile(dataDir: string, window: MeasureWindow): string[] {
  // One profile per thread: the main thread (HTTP) and the batch worker.
  const files = readdirSync(dataDir)
    .filter((name) => name.endsWith('.cpuprofile'))
    .sort()
  if (files.length === 0) return ['(no .cpuprofile was written)']
  return files.flatMap((file, index) => [
    `thread ${index + 1} of ${files.length} (${file}):`,
    ...summariseOneProfile(dataDir, file, window),
  ])
}

function summariseOneProfile(dataDir: string, file: string, window: MeasureWindow): string[] {
  const profile = JSON.parse(readFileSync(join(dataDir, file), 'utf8')) as CpuProfile
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]))
  const startUs = Number(window.measureStartNs / 1_000n)
  const endUs = Number(window.endNs / 1_000n)
  const byFunction = new Map<string, number>()
  const byArea = new Map<string, number>()
  let timeUs = profile.startTime
  let totalUs = 0
  profile.samples.forEach((id, index) => {
    const deltaUs = profile.timeDeltas[index] ?? 0
    timeUs += deltaUs
    const frame = frames.get(id)
    if (frame === undefined || timeUs < startUs || timeUs > endUs) return
    increment(byFunction, functionOf(frame), deltaUs)
    increment(byArea, areaOf(frame), deltaUs)
    totalUs += deltaUs
  })
  if (totalUs === 0) return [`(no samples inside the measured window in ${file})`]
  const top = (map: Map<string, number>, n: number): string[] =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, us]) => `  ${((100 * us) / totalUs).toFixed(1).padStart(5)}%  ${key}`)
  return [
    'server self time by area (measured window):',
    ...top(byArea, PROFILE_AREAS_SHOWN),
    'top functions by self time:',
    ...top(byFunction, PROFILE_FUNCTIONS_SHOWN),
  ]
}
