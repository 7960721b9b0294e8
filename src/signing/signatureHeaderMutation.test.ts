import { describe, expect, it } from 'vitest'
import { planSignatureHeaders } from './signatureHeaderMutation.js'
import type { SignatureHeaders } from './signRequest.js'

const WITHOUT_TOKEN: SignatureHeaders = {
  authorization: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-west-2/svc/aws4_request, …',
  amzDate: '20150830T123600Z',
  contentSha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
}
const WITH_TOKEN: SignatureHeaders = { ...WITHOUT_TOKEN, securityToken: 'TOKEN/abc+def==' }

describe('planSignatureHeaders', () => {
  it('sets the three signature headers without a session token', () => {
    expect(planSignatureHeaders([':authority', ':path', 'content-type'], WITHOUT_TOKEN)).toEqual({
      set: [
        ['authorization', WITHOUT_TOKEN.authorization],
        ['x-amz-date', '20150830T123600Z'],
        ['x-amz-content-sha256', WITHOUT_TOKEN.contentSha256],
      ],
      remove: [],
    })
  })

  it('also sets x-amz-security-token with a session token', () => {
    const plan = planSignatureHeaders(['x-amz-security-token'], WITH_TOKEN)
    expect(plan.set).toContainEqual(['x-amz-security-token', 'TOKEN/abc+def=='])
    expect(plan.set).toHaveLength(4)
    expect(plan.remove).toEqual([])
  })

  it('removes a stale client token when our credentials have none', () => {
    const plan = planSignatureHeaders(['authorization', 'x-amz-security-token'], WITHOUT_TOKEN)
    expect(plan.remove).toEqual(['x-amz-security-token'])
    expect(plan.set.map(([name]) => name)).not.toContain('x-amz-security-token')
  })

  it('removes every other client x-amz-* header, lower-cased and once each', () => {
    const plan = planSignatureHeaders(
      [
        'X-Amz-Target',
        'x-amz-target',
        'x-amz-user-agent',
        'x-amz-date',
        'X-AMZ-CONTENT-SHA256',
        'x-amz-meta-a',
        'x-amz-meta-a',
        'x-amzn-trace-id',
        'x-amz',
        'content-type',
        'authorization',
      ],
      WITH_TOKEN,
    )
    expect(plan.remove).toEqual(['x-amz-target', 'x-amz-user-agent', 'x-amz-meta-a'])
  })

  it('never removes a name it sets, so authorization is only overwritten', () => {
    const plan = planSignatureHeaders(['authorization', 'Authorization', 'x-amz-date'], WITH_TOKEN)
    const setNames = plan.set.map(([name]) => name)
    expect(plan.remove.filter((name) => setNames.includes(name))).toEqual([])
    expect(setNames).toEqual([
      'authorization',
      'x-amz-date',
      'x-amz-content-sha256',
      'x-amz-security-token',
    ])
  })

  it('accepts any iterable of names', () => {
    const names = new Set(['x-amz-target'])
    expect(planSignatureHeaders(names.values(), WITHOUT_TOKEN).remove).toEqual(['x-amz-target'])
  })
})
