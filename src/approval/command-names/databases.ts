/**
 * Database clients: the server comes from `-h`/`--host` (a comma list for
 * libpq), from a connection URI (`postgres://app@db.example.com/x`), from a
 * libpq conninfo string (`"host=db.example.com dbname=x"`), or from the
 * client's host variable (`PGHOST`, `MYSQL_HOST`). The SQL in `-c`/`-e` is text.
 */
import { parseArgs, valuesOf, type FlagSpec } from './args.js';
import { hostPortList, urlHosts } from './targets.js';
import type { Extractor, ExtractorTable, Sink } from './sink.js';

/** Hosts named by a libpq dbname argument: a URI or a `key=value` conninfo. */
function conninfoHosts(dbname: string): string[] {
  if (dbname.includes('://')) return urlHosts(dbname);
  const hosts: string[] = [];
  for (const m of dbname.matchAll(/(?:^|\s)host\s*=\s*'?([^\s']+)/g)) hosts.push(...(m[1] as string).split(','));
  return hosts;
}

function postgres(spec: FlagSpec): Extractor {
  return (args, sink) => {
    const p = parseArgs(args, { ...spec, long: ['host', 'port', 'username', 'dbname', 'command', 'file', 'set', 'variable',
      'output', 'log-file', 'pset', 'field-separator', 'record-separator', 'table-attr', 'schema', 'table',
      'exclude-schema', 'exclude-table', 'format', 'jobs', 'compress', 'encoding', 'role', 'superuser', 'maintenance-db'] });
    hostsOrEnv(sink, valuesOf(p, 'h', 'host').flatMap((h) => h.split(',')), 'PGHOST');
    for (const dbname of [...valuesOf(p, 'd', 'dbname', 'maintenance-db'), ...p.operands]) sink.hosts(conninfoHosts(dbname));
  };
}

function mysql(short: string): Extractor {
  return (args, sink) => {
    // -p takes its password only attached (-pSECRET); a bare -p prompts.
    const p = parseArgs(args, { short, attachedOnly: 'p', long: ['host', 'port', 'user', 'database', 'execute', 'socket', 'result-file', 'where', 'tab'] });
    hostsOrEnv(sink, valuesOf(p, 'h', 'host'), 'MYSQL_HOST');
  };
}

const redisCli: Extractor = (args, sink) => {
  const p = parseArgs(args, { short: 'hpsaunridD', long: ['user', 'pass', 'cacert', 'cacertdir', 'cert', 'key', 'sni', 'tls-ciphers'] });
  sink.hosts(valuesOf(p, 'h'));
  sink.urls(valuesOf(p, 'u'));
  // The operands are a Redis command and its arguments: data, not addresses.
};

/** mongosh & co.: URI operands and `--host [replSet/]h1:27017,h2`. */
const mongo: Extractor = (args, sink) => {
  const p = parseArgs(args, { short: 'hupdco', long: ['host', 'port', 'username', 'password', 'db', 'uri', 'eval', 'file', 'collection', 'out', 'authenticationDatabase'] });
  for (const host of valuesOf(p, 'h', 'host')) sink.hosts(hostPortList(host.slice(host.indexOf('/') + 1)));
  sink.urls([...valuesOf(p, 'uri'), ...p.operands]);
};

function hostsOrEnv(sink: Sink, hosts: readonly string[], envName: string): void {
  const fromEnv = sink.env.get(envName);
  sink.hosts(hosts.length > 0 ? hosts : fromEnv !== undefined ? fromEnv.split(',') : []);
}

const psql = postgres({ short: 'cdfFhLopPRTUv' });
const pgDump = postgres({ short: 'dfFhIjLnNpPSTtUZE' });
const pgAdmin = postgres({ short: 'hpUdDElOTSj' });

export const DATABASE_CLIENTS: ExtractorTable = {
  psql,
  pg_dump: pgDump,
  pg_dumpall: pgDump,
  pg_restore: pgDump,
  pg_isready: pgAdmin,
  pg_basebackup: pgAdmin,
  createdb: pgAdmin,
  dropdb: pgAdmin,
  createuser: pgAdmin,
  dropuser: pgAdmin,
  vacuumdb: pgAdmin,
  reindexdb: pgAdmin,
  clusterdb: pgAdmin,
  mysql: mysql('hPuDeS'),
  mariadb: mysql('hPuDeS'),
  mysqldump: mysql('hPuSrwT'),
  'mariadb-dump': mysql('hPuSrwT'),
  mysqladmin: mysql('hPuSic'),
  mysqlimport: mysql('hPuSc'),
  mysqlcheck: mysql('hPuS'),
  'redis-cli': redisCli,
  'valkey-cli': redisCli,
  mongosh: mongo,
  mongo,
  mongodump: mongo,
  mongorestore: mongo,
  mongoexport: mongo,
  mongoimport: mongo,
};
