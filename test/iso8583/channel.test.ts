import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encode, type IsoMessage } from '../../src/adapters/iso8583/codec.js'
import { cupEcbMac, MacKey, verifyCupEcbMac } from '../../src/adapters/iso8583/mac.js'
import { loadDialect, type Dialect, type DialectName } from '../../src/adapters/iso8583/spec.js'
import { DEMO_CARDS, DEMO_MERCHANTS, DEMO_TERMINALS } from '../../src/app/demo-data.js'
import { IsoTestClient } from '../support/iso-client.js'
import { api, cardTokenOf, startTestServer, type Api, type TestServer } from '../support/server.js'

/**
 * POS terminals over real TCP in each dialect: approvals and blocks, a reversal after an answer
 * the terminal never read, retransmissions, malformed frames, and the same explanation through
 * the HTTP API as any other transaction.
 */
const CUP_HEADER = { tpdu: '6000030000', header: '603100000000' }
let stanCounter = 500_000

interface Sale {
  readonly kind?: 'purchase' | 'balance_inquiry' | 'preauthorization'
  readonly card?: keyof typeof DEMO_CARDS
  readonly terminal?: keyof typeof DEMO_TERMINALS
  readonly amountMinor?: number
  readonly stan?: string
  readonly time?: string
}

/** A valid MMDDhhmmss, different for each STAN. */
function transmissionTime(): string {
  const seconds = stanCounter % 86_400
  const two = (n: number) => String(n).padStart(2, '0')
  return `1126${two(Math.floor(seconds / 3600))}${two(Math.floor(seconds / 60) % 60)}${two(seconds % 60)}`
}

function sale(dialect: DialectName, options: Sale = {}): IsoMessage {
  const card = DEMO_CARDS[options.card ?? 'debit']
  const terminal = DEMO_TERMINALS[options.terminal ?? 'noodles']
  const stan = options.stan ?? String(++stanCounter).padStart(6, '0')
  const kind = options.kind ?? 'purchase'
  const fields = new Map<number, string>([
    [2, card.pan],
    [3, kind === 'balance_inquiry' ? '310000' : kind === 'preauthorization' ? '030000' : '000000'],
    [11, stan],
    [14, card.expiry],
    [22, '021'],
    [25, '00'],
    [41, terminal.id],
    [42, terminal.merchantId],
    [49, '156'],
  ])
  if (kind !== 'balance_inquiry')
    fields.set(4, String(options.amountMinor ?? 1_000).padStart(12, '0'))
  const mti = kind === 'preauthorization' ? '0100' : '0200'
  if (dialect === 'cup-pos') {
    fields.set(
      60,
      `${kind === 'balance_inquiry' ? '01' : kind === 'preauthorization' ? '10' : '22'}000001000`,
    )
    return { mti, fields, header: CUP_HEADER }
  }
  fields.set(7, options.time ?? transmissionTime())
  return { mti, fields }
}

function reversalOf(dialect: DialectName, original: IsoMessage): IsoMessage {
  const fields = new Map(original.fields)
  if (dialect === 'cup-pos') return { mti: '0400', fields, header: CUP_HEADER }
  return { mti: '0400', fields }
}

describe.each<DialectName>(['iso87-ascii', 'iso87-binary', 'cup-pos'])(
  'ISO 8583 channel, %s',
  (dialectName) => {
    let server: TestServer
    let admin: Api
    let dialect: Dialect
    let client: IsoTestClient

    beforeAll(async () => {
      server = await startTestServer({
        TOLLGATE_ISO_DIALECT: dialectName,
        TOLLGATE_ISO_CONNECTIONS_MAX: '4',
      })
      admin = api(server.url, server.adminToken)
      dialect = loadDialect(dialectName)
      client = await IsoTestClient.open(server.isoPort, dialect)
    })
    afterAll(async () => {
      client.close()
      await server.close()
    })

    const available = async (card: keyof typeof DEMO_CARDS): Promise<string> => {
      const token = await cardTokenOf(server, DEMO_CARDS[card].pan)
      const answer = await admin.get<{ available: string }>(`/v1/cards/${token}`)
      return answer.body.available
    }

    it('signs a terminal on; refuses an unknown one', async () => {
      const network =
        dialectName === 'cup-pos'
          ? {
              mti: '0800',
              fields: new Map([
                [11, '000001'],
                [41, '10000001'],
                [42, DEMO_MERCHANTS.noodles.id],
                [60, '00000001001'],
              ]),
              header: CUP_HEADER,
            }
          : {
              mti: '0800',
              fields: new Map([
                [7, '1126120000'],
                [11, '000001'],
                [41, '10000001'],
                [70, '001'],
              ]),
            }
      const answer = await client.request(network)
      expect(answer.mti).toBe('0810')
      expect(answer.fields.get(39)).toBe('00')
      const unknown = { ...network, fields: new Map([...network.fields, [41, '99999999']]) }
      expect((await client.request(unknown)).fields.get(39)).toBe(
        dialectName === 'cup-pos' ? '97' : '58',
      )
    })

    it('approves a purchase with field 38, echoes the request, and the HTTP API explains it', async () => {
      const request = sale(dialectName, { amountMinor: 8_800 })
      const answer = await client.request(request)
      expect(answer.mti).toBe('0210')
      expect(answer.fields.get(39)).toBe('00')
      expect(answer.fields.get(38)).toMatch(/^[0-9A-Z]{6}$/)
      expect(answer.fields.get(11)).toBe(request.fields.get(11))
      expect(answer.fields.get(4)).toBe('000000008800')
      const rrn = answer.fields.get(37) ?? ''
      const found = await admin.get<{ items: { id: string; rrn: string; channel: string }[] }>(
        `/v1/transactions?terminalId=10000001&stan=${request.fields.get(11) ?? ''}`,
      )
      expect(found.body.items).toHaveLength(1)
      // Field 22 '021': the magnetic stripe was read; kept for risk backtests.
      expect(found.body.items[0]).toMatchObject({
        rrn,
        channel: 'iso8583',
        entryMode: 'magstripe',
        terminalRegion: null,
      })
      const byRrn = await admin.get<{ items: { id: string }[] }>(`/v1/transactions?rrn=${rrn}`)
      expect(byRrn.body.items[0]?.id).toBe(found.body.items[0]?.id)
      const explanation = await admin.get<{ title: string }>(
        `/v1/transactions/${found.body.items[0]?.id ?? ''}/explanation?lang=zh-CN`,
      )
      expect(explanation.body.title).toBe('消费成功')
    })

    it('blocks with the catalogue code of each family', async () => {
      const code = async (options: Sale) =>
        (await client.request(sale(dialectName, options))).fields.get(39)
      expect(await code({ card: 'lowBalance', terminal: 'grocery', amountMinor: 12_000 })).toBe(
        '51',
      )
      expect(await code({ amountMinor: 250_000 })).toBe('61')
      expect(await code({ card: 'listed' })).toBe('62')
      expect(await code({ terminal: 'fuel' })).toBe('03')
      expect(await code({ card: 'lost' })).toBe('41')
      expect(await code({ card: 'expired' })).toBe('54')
    })

    it('answers wrong data with its own code: a card number failing Luhn gets 14', async () => {
      const request = sale(dialectName)
      const fields = new Map(request.fields)
      fields.set(2, `${DEMO_CARDS.debit.pan.slice(0, -1)}0`)
      expect((await client.request({ ...request, fields })).fields.get(39)).toBe('14')
    })

    it('answers a balance inquiry with field 54', async () => {
      const answer = await client.request(
        sale(dialectName, { kind: 'balance_inquiry', card: 'lowBalance', terminal: 'grocery' }),
      )
      expect(answer.fields.get(39)).toBe('00')
      expect(answer.fields.get(54)).toBe('0002156C000000003000')
    })

    it('reverses a purchase whose answer the terminal never read, exactly once', async () => {
      const before = await available('credit')
      const request = sale(dialectName, {
        card: 'credit',
        terminal: 'grocery',
        amountMinor: 45_600,
      })
      client.send(request)
      await client.receive() // the answer arrives, but the "terminal" acts as if it timed out
      expect(await available('credit')).not.toBe(before)
      const reversal = await client.request(reversalOf(dialectName, request))
      expect(reversal.mti).toBe('0410')
      expect(reversal.fields.get(39)).toBe('00')
      expect(await available('credit')).toBe(before)
      const again = await client.request(reversalOf(dialectName, request))
      expect(again.fields.get(39)).toBe('00')
      expect(await available('credit')).toBe(before)
    })

    it('answers a retransmission with the original answer and never holds twice', async () => {
      const before = await available('debit')
      const request = sale(dialectName, { amountMinor: 1_234 })
      const first = await client.request(request)
      const second = await client.request(request)
      expect(second.fields.get(38)).toBe(first.fields.get(38))
      expect(second.fields.get(37)).toBe(first.fields.get(37))
      const after = await available('debit')
      // Compared in minor units: 12.34 moved once.
      const minor = (text: string) => Number(text.replace('.', ''))
      expect(minor(before) - minor(after)).toBe(1_234)
    })

    it('answers a readable MTI with a broken body with 30, drops unreadable bytes, and keeps serving', async () => {
      const good = sale(dialectName)
      const mtiBytes =
        dialectName === 'iso87-ascii' ? Buffer.from('0200') : Buffer.from([0x02, 0x00])
      const prefix =
        dialectName === 'cup-pos'
          ? Buffer.from(CUP_HEADER.tpdu + CUP_HEADER.header, 'hex')
          : Buffer.alloc(0)
      client.sendRaw(
        Buffer.concat([
          prefix,
          mtiBytes,
          Buffer.from(dialectName === 'iso87-ascii' ? 'ZZZZ' : 'Z'),
        ]),
      )
      const formatError = await client.receive()
      expect(formatError?.mti).toBe('0210')
      expect(formatError?.fields.get(39)).toBe('30')
      client.sendRaw(Buffer.concat([prefix, Buffer.from([0xff, 0xff])]))
      expect(await client.receive(300)).toBeNull()
      const after = await client.request(good)
      expect(after.fields.get(39)).toBe('00')
      const metrics = await admin.get<unknown>('/metrics')
      expect(metrics.text).toContain('tollgate_iso_decode_errors_total')
    })

    it('closes a connection that declares an oversized frame, without buffering it; others go on', async () => {
      const rogue = await IsoTestClient.open(server.isoPort, dialect)
      rogue.sendBytes(Buffer.from([0xff, 0xff, 0x01, 0x02]))
      expect(await rogue.receive(2_000)).toBeNull()
      expect(rogue.closed).toBe(true)
      expect((await client.request(sale(dialectName))).fields.get(39)).toBe('00')
    })

    it('refuses connections beyond the limit', async () => {
      const extra = await Promise.all(
        [1, 2, 3, 4].map(() => IsoTestClient.open(server.isoPort, dialect)),
      )
      await Promise.all(extra.map((c) => c.receive(300)))
      expect(extra.filter((c) => c.closed).length).toBeGreaterThanOrEqual(1)
      for (const c of extra) c.close()
    })

    it('never echoes the card number into the HTTP API or stores it', async () => {
      const answer = await admin.get<unknown>('/v1/transactions?terminalId=10000001&limit=100')
      expect(answer.text).not.toContain(DEMO_CARDS.debit.pan)
    })
  },
)

describe('ISO 8583 channel: data family, unknown originals and MACs', () => {
  let server: TestServer
  let client: IsoTestClient
  let dialect: Dialect
  let keysDir: string
  const MAC_KEY = '0123456789ABCDEF'

  beforeAll(async () => {
    keysDir = await mkdtemp(join(tmpdir(), 'tollgate-mac-'))
    const keysFile = join(keysDir, 'mac-keys.json')
    await writeFile(keysFile, JSON.stringify({ [DEMO_TERMINALS.hotel.id]: MAC_KEY }))
    server = await startTestServer({
      TOLLGATE_ISO_DIALECT: 'cup-pos',
      TOLLGATE_ISO_MAC_KEYS_FILE: keysFile,
    })
    dialect = loadDialect('cup-pos')
    client = await IsoTestClient.open(server.isoPort, dialect)
  })
  afterAll(async () => {
    client.close()
    await server.close()
    await rm(keysDir, { recursive: true, force: true })
  })

  it('answers a card number that fails Luhn with 14 (data family)', async () => {
    const request = sale('cup-pos')
    const fields = new Map(request.fields)
    fields.set(2, `${DEMO_CARDS.debit.pan.slice(0, -1)}0`)
    expect((await client.request({ ...request, fields })).fields.get(39)).toBe('14')
  })

  it('acknowledges a reversal whose original never arrived, and refuses that original if it comes late', async () => {
    const original = sale('cup-pos', { stan: '777777', amountMinor: 3_300 })
    const answer = await client.request(reversalOf('cup-pos', original))
    expect(answer.mti).toBe('0410')
    expect(answer.fields.get(39)).toBe('00')
    const late = await client.request(original)
    expect(late.fields.get(39)).toBe('94')
    expect(late.fields.get(38)).toBeUndefined()
  })

  const withMac = (message: IsoMessage, key: string): IsoMessage => {
    const fields = new Map(message.fields)
    fields.set(64, '0000000000000000')
    const encoded = encode(dialect, { ...message, fields })
    if (!encoded.ok) throw new Error('encodes')
    const bytes = Buffer.from(encoded.bytes)
    const mac = cupEcbMac(MacKey.fromHex(key), bytes.subarray(11, bytes.length - 8))
    fields.set(64, Buffer.from(mac).toString('hex').toUpperCase())
    return { ...message, fields }
  }

  it('verifies field 64 for a terminal with a MAC key, and MACs the answer', async () => {
    const request = withMac(sale('cup-pos', { terminal: 'hotel', amountMinor: 5_000 }), MAC_KEY)
    const answer = await client.request(request)
    expect(answer.fields.get(39)).toBe('00')
    const mac = answer.fields.get(64)
    expect(mac).toMatch(/^[0-9A-F]{16}$/)
    const encoded = encode(dialect, answer)
    if (!encoded.ok) throw new Error('the answer re-encodes')
    const bytes = Buffer.from(encoded.bytes)
    expect(
      verifyCupEcbMac(
        MacKey.fromHex(MAC_KEY),
        bytes.subarray(11, bytes.length - 8),
        Buffer.from(mac ?? '', 'hex'),
      ),
    ).toBe(true)
  })

  it('answers a wrong MAC with A0 and moves no money', async () => {
    const request = withMac(
      sale('cup-pos', { terminal: 'hotel', amountMinor: 5_000 }),
      'FEDCBA9876543210',
    )
    const answer = await client.request(request)
    expect(answer.fields.get(39)).toBe('A0')
    const found = await api(server.url, server.adminToken).get<{ items: unknown[] }>(
      `/v1/transactions?terminalId=${DEMO_TERMINALS.hotel.id}&stan=${request.fields.get(11) ?? ''}`,
    )
    expect(found.body.items).toHaveLength(0)
  })
})

describe.each<DialectName>(['iso87-ascii', 'iso87-binary', 'cup-pos'])(
  'ISO 8583 channel: network family, %s',
  (dialectName) => {
    it('answers 96 (system busy) when the authorization queue is full, and decides the rest', async () => {
      const server = await startTestServer({
        TOLLGATE_ISO_DIALECT: dialectName,
        TOLLGATE_QUEUE_DEPTH_MAX: '1',
        TOLLGATE_BATCH_SIZE_MAX: '1',
      })
      const client = await IsoTestClient.open(server.isoPort, loadDialect(dialectName))
      try {
        const requests = Array.from({ length: 30 }, () => sale(dialectName, { amountMinor: 100 }))
        for (const request of requests) client.send(request)
        const codes: string[] = []
        for (let i = 0; i < requests.length; i++) {
          const answer = await client.receive()
          if (answer === null) break
          codes.push(answer.fields.get(39) ?? '')
        }
        expect(codes).toHaveLength(requests.length)
        expect(codes).toContain('96')
        expect(codes.filter((code) => code !== '00' && code !== '96')).toEqual([])
      } finally {
        client.close()
        await server.close()
      }
    })
  },
)
