/**
 * The value at a dotted claim path (`realm_access.roles`), or undefined. A claim whose own name
 * contains dots is found too: the longest matching name wins at each level.
 */
export function readClaim(claims: Readonly<Record<string, unknown>>, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path]
  const parts = path.split('.')
  for (let take = parts.length - 1; take >= 1; take--) {
    const head = parts.slice(0, take).join('.')
    if (!Object.hasOwn(claims, head)) continue
    const child = claims[head]
    if (typeof child !== 'object' || child === null || Array.isArray(child)) return undefined
    return readClaim(child as Record<string, unknown>, parts.slice(take).join('.'))
  }
  return undefined
}
