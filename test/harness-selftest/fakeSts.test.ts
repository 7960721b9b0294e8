import { AssumeRoleCommand, AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { afterEach, describe, expect, it } from 'vitest'
import { startFakeSts } from '../harness/fakeSts.js'
import type { FakeSts, FakeStsOptions } from '../harness/fakeSts.js'

const CALLER = { accessKeyId: 'AKIDCALLER0000000001', secretAccessKey: 'caller-secret' }
const ROLE = 'arn:aws:iam::123456789012:role/mcp-signer'

let sts: FakeSts | undefined

afterEach(async () => {
  await sts?.close()
  sts = undefined
})

async function start(options: FakeStsOptions = {}): Promise<FakeSts> {
  sts = await startFakeSts({
    callerCredentials: { [CALLER.accessKeyId]: { secretAccessKey: CALLER.secretAccessKey } },
    ...options,
  })
  return sts
}

function client(endpoint: string, secret = CALLER.secretAccessKey): STSClient {
  return new STSClient({
    endpoint,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: { accessKeyId: CALLER.accessKeyId, secretAccessKey: secret },
  })
}

describe('fake STS with the real @aws-sdk/client-sts', () => {
  it('AssumeRole returns freshly issued credentials with a Date expiration', async () => {
    const fake = await start()
    const out = await client(fake.endpoint).send(new AssumeRoleCommand({
      RoleArn: ROLE, RoleSessionName: 'sess-1', DurationSeconds: 900, ExternalId: 'ext-1',
      SourceIdentity: 'alice',
    }))
    const creds = out.Credentials
    expect(creds?.AccessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/)
    expect(creds?.Expiration).toBeInstanceOf(Date)
    const issued = fake.issued.get(creds?.AccessKeyId as string)
    expect(issued?.secretAccessKey).toBe(creds?.SecretAccessKey)
    expect(issued?.sessionToken).toBe(creds?.SessionToken)
    expect(issued?.roleArn).toBe(ROLE)
    expect(issued?.sessionName).toBe('sess-1')
    expect(creds?.Expiration?.getTime()).toBe(issued?.expiration.getTime())
    const delta = (issued?.expiration.getTime() ?? 0) - fake.calls[0]!.at.getTime()
    expect(delta).toBeGreaterThan(898_000)
    expect(delta).toBeLessThanOrEqual(900_000)
    expect(out.AssumedRoleUser?.Arn).toBe(
      'arn:aws:sts::123456789012:assumed-role/mcp-signer/sess-1')
    expect(out.SourceIdentity).toBe('alice')
    const call = fake.calls[0]!
    expect(call.action).toBe('AssumeRole')
    expect(call.signatureValid).toBe(true)
    expect(call.params.ExternalId).toBe('ext-1')
    expect(call.params.DurationSeconds).toBe('900')
    expect(call.params.SourceIdentity).toBe('alice')
  })

  it('computes expirations from the injected clock', async () => {
    const fixedNow = Date.UTC(2026, 0, 15, 12, 0, 0)
    const fake = await start({ now: () => fixedNow, enforceSignature: false })
    const out = await client(fake.endpoint).send(
      new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: 's', DurationSeconds: 1800 }))
    expect(out.Credentials?.Expiration?.toISOString()).toBe('2026-01-15T12:30:00.000Z')
    // The SDK signed with the real clock, far from the injected one: recorded, not enforced.
    expect(fake.calls[0]?.signatureValid).toBe(Math.abs(Date.now() - fixedNow) < 300_000)
  })

  it('issues a distinct credential per call and honours expiresInSeconds', async () => {
    const fake = await start({ expiresInSeconds: 5 })
    const c = client(fake.endpoint)
    const a = await c.send(new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: 's' }))
    const b = await c.send(new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: 's' }))
    expect(a.Credentials?.AccessKeyId).not.toBe(b.Credentials?.AccessKeyId)
    expect(a.Credentials?.SessionToken).not.toBe(b.Credentials?.SessionToken)
    expect(fake.issued.size).toBe(2)
    const lifetime = (a.Credentials?.Expiration?.getTime() ?? 0) - fake.calls[0]!.at.getTime()
    expect(lifetime).toBeGreaterThan(3_000)
    expect(lifetime).toBeLessThanOrEqual(5_000)
  })

  it('rejects a caller with the wrong secret as SignatureDoesNotMatch', async () => {
    const fake = await start()
    const err = await client(fake.endpoint, 'wrong').send(
      new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: 's' })).catch((e: unknown) => e)
    expect((err as Error).name).toBe('SignatureDoesNotMatch')
    expect(fake.calls[0]?.signatureValid).toBe(false)
    expect(fake.calls[0]?.signatureFailure).toBe('signature-mismatch')
    expect(fake.calls[0]?.status).toBe(403)
    expect(fake.issued.size).toBe(0)
  })

  it('surfaces AccessDenied as an SDK error named AccessDenied', async () => {
    const fake = await start({ allowedRoleArns: ['arn:aws:iam::123456789012:role/other'] })
    const err = await client(fake.endpoint).send(
      new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: 's' })).catch((e: unknown) => e)
    expect((err as Error).name).toBe('AccessDenied')
    expect((err as Error).message).toContain(`sts:AssumeRole on resource: ${ROLE}`)
    expect((err as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(403)
  })

  it('fails the next N calls with a programmed error, then recovers', async () => {
    const fake = await start()
    fake.setBehaviour({ failNext: { count: 1, error: { code: 'Throttling', status: 400 } } })
    const c = client(fake.endpoint)
    const err = await c.send(new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: 's' }))
      .catch((e: unknown) => e)
    expect((err as Error).name).toBe('Throttling')
    expect((err as Error).message).toBe('Rate exceeded')
    const unavailable = { code: 'ServiceUnavailable', status: 503 }
    fake.setBehaviour({ failNext: { count: 1, error: unavailable } })
    const err5 = await c.send(new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: 's' }))
      .catch((e: unknown) => e)
    expect((err5 as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(503)
    const ok = await c.send(new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: 's' }))
    expect(ok.Credentials?.AccessKeyId).toMatch(/^ASIA/)
    expect(fake.calls.map((call) => call.status)).toEqual([400, 503, 200])
  })

  it('AssumeRoleWithWebIdentity is unsigned and reports the token subject', async () => {
    const fake = await start()
    const payload = Buffer.from(JSON.stringify({ sub: 'system:serviceaccount:ns:sa',
      aud: 'sts.amazonaws.com', iss: 'https://oidc.example' })).toString('base64url')
    const token = `eyJhbGciOiJSUzI1NiJ9.${payload}.sig`
    const c = new STSClient({ endpoint: fake.endpoint, region: 'us-east-1', maxAttempts: 1,
      credentials: { accessKeyId: 'unused', secretAccessKey: 'unused' } })
    const out = await c.send(new AssumeRoleWithWebIdentityCommand({
      RoleArn: ROLE, RoleSessionName: 'web', WebIdentityToken: token }))
    expect(out.SubjectFromWebIdentityToken).toBe('system:serviceaccount:ns:sa')
    expect(out.Provider).toBe('https://oidc.example')
    expect(out.Credentials?.Expiration).toBeInstanceOf(Date)
    expect(fake.issued.get(out.Credentials?.AccessKeyId as string)?.sessionName).toBe('web')
    expect(fake.calls[0]?.signatureValid).toBeUndefined()
    expect(fake.calls[0]?.params.WebIdentityToken).toBe(token)
  })

  it('answers malformed XML and can hang', async () => {
    const fake = await start({ behaviour: { malformed: true } })
    const err = await client(fake.endpoint).send(
      new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: 's' })).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Error)
    expect(fake.calls[0]?.status).toBe(200)
    fake.setBehaviour({ malformed: false, hang: true })
    const c = new STSClient({ endpoint: fake.endpoint, region: 'us-east-1', maxAttempts: 1,
      credentials: { accessKeyId: CALLER.accessKeyId, secretAccessKey: CALLER.secretAccessKey } })
    const abort = new AbortController()
    const pending = c.send(new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: 's' }),
      { abortSignal: abort.signal }).catch((e: unknown) => e)
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(fake.calls).toHaveLength(2)
    expect(fake.calls[1]?.status).toBeUndefined()
    abort.abort()
    expect(await pending).toBeInstanceOf(Error)
  })

  it('answers latency as programmed', async () => {
    const fake = await start({ behaviour: { latencyMs: 120 } })
    const started = Date.now()
    await client(fake.endpoint).send(new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: 's' }))
    expect(Date.now() - started).toBeGreaterThanOrEqual(110)
  })
})
