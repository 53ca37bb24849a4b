// PostgreSQL's batch() and chain(): several statements as one, of WITH
// queries, so they cost one round trip and run in one implicit transaction.

import type { Query, Statement, Step } from './db.js';

// Our SQL is written with `?`; PostgreSQL numbers its parameters. No statement
// here has a literal '?' in it.
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

const ABORTED = 'otpkit: batch aborted';
const INVALID_TEXT = '22P02'; // invalid_text_representation

/**
 * A batch as one statement: one round trip, and one implicit transaction.
 * Each part is a data-modifying WITH query (they all run, on one snapshot;
 * each conditional UPDATE still re-checks a row another transaction changed).
 * An unmet expectChanges makes the statement fail (a cast of the ABORTED text
 * to an integer, built at run time so the planner cannot fold it), and the
 * failure rolls every part back.
 */
function oneStatement(statements: readonly Statement[]): Query {
  const parts = statements.map((s, i) => `s${i} AS (${s.sql} RETURNING 1)`);
  const checks = statements.flatMap((s, i) =>
    s.expectChanges === undefined ? [] : [`(SELECT count(*) FROM s${i}) = ${s.expectChanges}`],
  );
  const ok = checks.length === 0 ? 'TRUE' : checks.join(' AND ');
  return {
    sql: `WITH ${parts.join(', ')} SELECT CAST(CASE WHEN ${ok} THEN '1' ELSE '${ABORTED}' END AS INTEGER) AS ok`,
    params: statements.flatMap((s) => s.params ?? []),
  };
}

/** The error of a batch whose expectChanges did not hold (see oneStatement). */
function isAborted(error: unknown): boolean {
  const { code, message } = error as { code?: string; message?: string };
  return code === INVALID_TEXT && message?.includes(ABORTED) === true;
}

/**
 * A chain as one statement: each step a WITH query under its name (a
 * data-modifying one runs once, whether or not it is read), then the final
 * query. All of it sees one snapshot, as Db.chain says.
 */
function chainStatement(steps: readonly Step[], final: Query): Query {
  return {
    sql: `WITH ${steps.map((step) => `${step.name} AS (${step.sql})`).join(', ')} ${final.sql}`,
    params: [...steps.flatMap((step) => step.params ?? []), ...(final.params ?? [])],
  };
}

export { chainStatement, isAborted, numbered, oneStatement };
