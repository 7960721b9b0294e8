/** What `run` throws (synchronously), or undefined when it returns. */
export function catchError(run: () => unknown): unknown {
  try {
    run()
  } catch (err) {
    return err
  }
  return undefined
}
