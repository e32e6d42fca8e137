#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig } from '../app/config.js'
import { DataDirInUse } from '../app/data-dir-lock.js'
import { startTollgate } from '../app/main.js'
import type { Lang } from '../core/reasons/types.js'
import { runDemoTour } from './demo-tour.js'
import { apiClientOf, langOf, randomStan, UsageError } from './env.js'
import { findTransactions } from './find.js'
import { formatExplanation, type ExplanationLike } from './format.js'
import type { ApiClient } from './http-client.js'
import { runRiskCommand } from './risk.js'
import { runMaintenanceCommand, runRoutesCommand } from './routes.js'
import { runDrillCommand } from '../drills/command.js'
import { runIssuerSim } from '../issuer-sim/main.js'
import { terminal } from './terminal/terminal.js'

const HELP = `tollgate — POS card authorization switch that explains every block

Usage:
  tollgate serve                      start the switch (embedded SQLite in ./data, demo data on first start)
  tollgate authorize [options]        send one transaction to a running server and explain the answer
  tollgate explain <transaction-id>   explain a transaction (why it was approved or blocked)
  tollgate find [filters]             find transactions: --terminal --merchant --last4 --amount
                                      --outcome --reason --kind --stan --rrn --from --to --limit
  tollgate demo [--verbose]           guided tour: an approval and a block of every family
  tollgate terminal [options]         POS terminal simulator over ISO 8583/TCP (--help for options)
  tollgate issuer-sim [options]       simulated card issuer host for tests and drills (--help)
  tollgate drill <scenario>           failure drill against the simulator: slow, dropping,
                                      disconnecting, down, maintenance, recovering (--help)
  tollgate risk <command>             risk control (needs TOLLGATE_ADMIN_TOKEN; risk help for all):
                                      rules, rule <id>, add --file rule.json, set-status <id>
                                      <status> --note "why", check '<expression>', features,
                                      reviews [--status open], review|claim|release <tx-id>,
                                      resolve <tx-id> fraud|genuine --note "…", backtest
  tollgate routes [<command>]         issuer routes (needs TOLLGATE_ADMIN_TOKEN; routes help):
                                      show <id>, add --id … --host … --port …, bin <prefix>
                                      <route|local>, unbin <prefix>, bins, default <route|local|
                                      none>, outbox [--status pending]
  tollgate maintenance <route> --from <ISO> --to <ISO> [--mode stand_in|decline] --note "…"
                                      schedule a maintenance window; maintenance list [<route>],
                                      maintenance cancel <window-id>
  tollgate help

Common options:
  --url <url>        server (default TOLLGATE_URL or http://127.0.0.1:8080)
  --lang <zh-CN|en>  language of explanations (default TOLLGATE_LANG or en)
  --json             print the raw JSON answer

authorize options:
  --kind purchase|preauthorization|balance_inquiry   (default purchase)
  --terminal <8 chars> --merchant <15 chars> --pan <digits> --expiry <YYMM>
  --amount <decimal> --currency <code> (default CNY) --stan <6 digits> (default random)

Configuration (environment): TOLLGATE_DATA_DIR, TOLLGATE_HTTP_HOST, TOLLGATE_HTTP_PORT,
TOLLGATE_ADMIN_TOKEN, TOLLGATE_CARD_TOKEN_KEY, TOLLGATE_CONFIG (JSON file) — see docs/operations.md.`

/** A JSON value as text: strings and numbers as they are, anything else empty. */
function str(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : ''
}

async function serve(): Promise<void> {
  const config = loadConfig()
  const running = await startTollgate(config)
  const lines = [
    'Tollgate — POS authorization switch',
    `  database   ${running.databasePath}${running.demoSeeded ? ' (new: demo data loaded)' : ''}`,
    `  HTTP API   ${running.httpUrl}   (OpenAPI: ${running.httpUrl}/openapi.json)`,
    `  ISO 8583   ${running.isoAddress}   (dialect ${running.isoDialect}, framing ${running.isoFraming})`,
  ]
  if (running.generatedAdminToken !== null) {
    lines.push(
      `  admin token (shown once — keep it; or set TOLLGATE_ADMIN_TOKEN): ${running.generatedAdminToken}`,
    )
  }
  lines.push('  try:       npm run tollgate -- demo      (in another terminal)')
  process.stdout.write(lines.join('\n') + '\n')
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    process.stdout.write(`\n${signal}: draining in-flight work and stopping…\n`)
    running.close().then(
      () => process.exit(process.exitCode ?? 0),
      (error: unknown) => {
        process.stderr.write(`error while stopping: ${String(error)}\n`)
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}

function client(values: { url?: string | undefined; lang?: string | undefined }): {
  api: ApiClient
  lang: Lang
} {
  const lang = langOf(values.lang)
  return { api: apiClientOf(values.url, lang), lang }
}

async function authorize(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: 'string' },
      lang: { type: 'string' },
      json: { type: 'boolean' },
      kind: { type: 'string', default: 'purchase' },
      terminal: { type: 'string' },
      merchant: { type: 'string' },
      pan: { type: 'string' },
      expiry: { type: 'string' },
      amount: { type: 'string' },
      currency: { type: 'string', default: 'CNY' },
      stan: { type: 'string' },
    },
  })
  for (const required of ['terminal', 'merchant', 'pan', 'expiry'] as const) {
    if (values[required] === undefined) throw new UsageError(`authorize: --${required} is required`)
  }
  const { api, lang } = client(values)
  const stan = values.stan ?? randomStan()
  const answer = await api.call('POST', '/v1/authorizations', {
    kind: values.kind,
    terminalId: values.terminal,
    merchantId: values.merchant,
    stan,
    card: { pan: values.pan, expiry: values.expiry },
    ...(values.amount === undefined ? {} : { amount: values.amount }),
    currency: values.currency,
  })
  if (values.json === true) {
    process.stdout.write(JSON.stringify(answer.body, null, 2) + '\n')
    return
  }
  printAnswer(answer.status, answer.body, lang)
}

function printAnswer(status: number, body: Record<string, unknown>, lang: Lang): void {
  const explanation = body.explanation as ExplanationLike | undefined
  if (status >= 400 && explanation === undefined) {
    const errors = (body.errors as { field: string; message: string }[] | undefined) ?? []
    process.stdout.write(`✗ ${str(body.title) || 'error'} (HTTP ${status}): ${str(body.detail)}\n`)
    for (const e of errors) process.stdout.write(`    ${e.field}: ${e.message}\n`)
    process.exitCode = 2
    return
  }
  if (typeof body.transactionId === 'string')
    process.stdout.write(
      `transaction ${body.transactionId}${body.authorizationCode === undefined ? '' : `  authorization code ${str(body.authorizationCode)}`}${body.balance === undefined ? '' : `  balance ${str(body.balance)}`}\n`,
    )
  if (status >= 400)
    process.stdout.write(
      `(HTTP ${status}: ${lang === 'zh-CN' ? '请求被拒收，未记录' : 'request rejected, nothing recorded'})\n`,
    )
  if (explanation !== undefined) process.stdout.write(formatExplanation(explanation, lang) + '\n')
}

async function explain(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { url: { type: 'string' }, lang: { type: 'string' }, json: { type: 'boolean' } },
  })
  const id = positionals[0]
  if (id === undefined)
    throw new UsageError('explain: give a transaction id, e.g. tollgate explain tx_01J…')
  const { api, lang } = client(values)
  const answer = await api.call('GET', `/v1/transactions/${encodeURIComponent(id)}/explanation`)
  if (values.json === true) {
    process.stdout.write(JSON.stringify(answer.body, null, 2) + '\n')
    return
  }
  if (answer.status !== 200) {
    process.stdout.write(
      `✗ ${str(answer.body.detail) || str(answer.body.title) || String(answer.status)}\n`,
    )
    process.exitCode = 2
    return
  }
  const t = answer.body.transaction as Record<string, unknown>
  const card = t.card as { masked?: string } | null
  process.stdout.write(
    `${str(t.id)}  ${str(t.kind)}  ${str(t.amount)} ${str(t.currency)}  ${lang === 'zh-CN' ? '终端' : 'terminal'} ${str(t.terminalId)}  ${lang === 'zh-CN' ? '商户' : 'merchant'} ${str(t.merchantId)}  ${card?.masked ?? ''}  ${str(t.createdAt)}\n`,
  )
  printAnswer(200, { explanation: answer.body }, lang)
}

async function find(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: false,
    options: { url: { type: 'string' }, lang: { type: 'string' } },
  })
  const url = typeof values.url === 'string' ? values.url : undefined
  const lang = typeof values.lang === 'string' ? values.lang : undefined
  const { api, lang: language } = client({ url, lang })
  process.stdout.write((await findTransactions(api, args, language)) + '\n')
}

async function demo(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { url: { type: 'string' }, lang: { type: 'string' }, verbose: { type: 'boolean' } },
  })
  const { api, lang } = client(values)
  process.stdout.write((await runDemoTour(api, lang, values.verbose === true)) + '\n')
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv
  switch (command) {
    case 'serve':
      return serve()
    case 'authorize':
      return authorize(rest)
    case 'explain':
      return explain(rest)
    case 'find':
      return find(rest)
    case 'demo':
      return demo(rest)
    case 'terminal':
      return terminal(rest)
    case 'risk':
      return runRiskCommand(rest)
    case 'routes':
      return runRoutesCommand(rest)
    case 'maintenance':
      return runMaintenanceCommand(rest)
    case 'issuer-sim':
      return runIssuerSim(rest)
    case 'drill':
      return runDrillCommand(rest)
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP + '\n')
      return
    default:
      throw new UsageError(`unknown command "${command}"\n\n${HELP}`)
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError || error instanceof ConfigError) {
    process.stderr.write(`tollgate: ${error.message}\n`)
    process.exit(2)
  }
  const message =
    error instanceof Error
      ? `${error.message}${error.cause instanceof Error ? ` (${error.cause.message})` : ''}`
      : String(error)
  process.stderr.write(`tollgate: ${message}\n`)
  // 75 (EX_TEMPFAIL): another Tollgate holds the data directory; retry once it has stopped.
  process.exit(error instanceof DataDirInUse ? 75 : 1)
})
