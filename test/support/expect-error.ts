/**
 * A precise error check for uvu's `assert.throws`. Given a class as its second argument,
 * `assert.throws` calls it as a function (`RangeError(err)` returns a truthy object), so it
 * passes on any error at all; given a pattern, it accepts any class. `errorLike` checks both
 * the class and the message (or the stable `code`), and says which one differed.
 */
import * as assert from 'uvu/assert'

type ErrorClass = abstract new (...args: never[]) => Error

/** A predicate for `assert.throws(fn, errorLike(RangeError, /names the option/))`. */
export function errorLike(type: ErrorClass, expected: RegExp | { code: string }): (err: unknown) => true {
  return (err) => {
    assert.instance(err, type, `expected a ${type.name}, got ${String(err)}`)
    if (expected instanceof RegExp) assert.match((err as Error).message, expected)
    else assert.is((err as { code?: unknown }).code, expected.code, String(err))
    return true
  }
}
