/**
 * docker, podman, nerdctl: the registry an image reference names
 * (`ghcr.io/org/img:tag` → ghcr.io; `ubuntu:24.04` → Docker Hub, the docker
 * preset; `localhost:5000/x` → nothing), the daemon in `-H tcp://…`, and the
 * server of `login`. The command given to `docker run IMAGE CMD…` is read as a
 * command too: the container's lookups go through the host's resolver, so
 * they arrive here from the same agent.
 */
import { parseArgs, valuesOf, type FlagSpec } from './args.js';
import { hostPortList, imageSource, isDockerHub } from './targets.js';
import type { Extractor, ExtractorTable, Sink } from './sink.js';

const GLOBAL: FlagSpec = {
  short: 'cHlna',
  long: ['context', 'host', 'log-level', 'config', 'tlscacert', 'tlscert', 'tlskey', 'url', 'connection', 'identity',
    'root', 'runroot', 'storage-driver', 'storage-opt', 'cgroup-manager', 'conmon', 'events-backend', 'hooks-dir',
    'network-cmd-path', 'runtime', 'tmpdir', 'module', 'namespace', 'address', 'snapshotter'],
  stopAtOperand: true,
};

/** Options of `run`/`create` that take a value; the image is the first operand after them. */
const RUN: FlagSpec = {
  short: 'acehlmpuvw',
  long: ['add-host', 'annotation', 'attach', 'blkio-weight', 'blkio-weight-device', 'cap-add', 'cap-drop',
    'cgroup-parent', 'cgroupns', 'cidfile', 'cpu-period', 'cpu-quota', 'cpu-rt-period', 'cpu-rt-runtime',
    'cpu-shares', 'cpus', 'cpuset-cpus', 'cpuset-mems', 'detach-keys', 'device', 'device-cgroup-rule',
    'device-read-bps', 'device-read-iops', 'device-write-bps', 'device-write-iops', 'dns', 'dns-option',
    'dns-search', 'domainname', 'entrypoint', 'env', 'env-file', 'expose', 'gpus', 'group-add', 'health-cmd',
    'health-interval', 'health-retries', 'health-start-interval', 'health-start-period', 'health-timeout',
    'hostname', 'ip', 'ip6', 'ipc', 'isolation', 'kernel-memory', 'label', 'label-file', 'link',
    'link-local-ip', 'log-driver', 'log-opt', 'mac-address', 'memory', 'memory-reservation', 'memory-swap',
    'memory-swappiness', 'mount', 'name', 'network', 'net', 'network-alias', 'net-alias', 'oom-score-adj',
    'pid', 'pids-limit', 'platform', 'publish', 'pull', 'restart', 'runtime', 'security-opt', 'shm-size',
    'stop-signal', 'stop-timeout', 'storage-opt', 'sysctl', 'tmpfs', 'ulimit', 'user', 'userns', 'uts',
    'volume', 'volume-driver', 'volumes-from', 'workdir', 'arch', 'os', 'variant', 'secret', 'pod',
    'creds', 'authfile', 'cert-dir', 'decryption-key', 'env-host', 'hostuser', 'http-proxy', 'init-path',
    'systemd', 'timezone', 'umask', 'uidmap', 'gidmap', 'subuidname', 'subgidname', 'rootfs', 'requires'],
  stopAtOperand: true,
};

const EXEC: FlagSpec = { short: 'euw', long: ['env', 'env-file', 'user', 'workdir', 'detach-keys'], stopAtOperand: true };

/** `image pull` → `pull`, `container run` → `run`. */
const GROUPED: Readonly<Record<string, ReadonlySet<string>>> = {
  image: new Set(['pull', 'push']),
  container: new Set(['run', 'create', 'exec']),
};

function image(ref: string | undefined, sink: Sink): void {
  if (ref === undefined) return;
  const source = imageSource(ref);
  if (source?.kind === 'hub') sink.preset('docker');
  else if (source?.kind === 'registry') sink.hosts([source.host]);
}

const container: Extractor = (args, sink) => {
  const global = parseArgs(args, GLOBAL);
  sink.urls(valuesOf(global, 'H', 'host', 'url'));
  const dockerHost = sink.env.get('DOCKER_HOST') ?? sink.env.get('CONTAINER_HOST');
  if (dockerHost !== undefined) sink.urls([dockerHost]);

  let [sub, ...rest] = global.operands;
  if (sub !== undefined && Object.hasOwn(GROUPED, sub) && rest[0] !== undefined && GROUPED[sub]?.has(rest[0]) === true) {
    [sub, ...rest] = rest;
  }
  switch (sub) {
    case 'pull':
    case 'push': {
      const p = parseArgs(rest, { long: ['platform', 'creds', 'authfile', 'cert-dir', 'decryption-key', 'arch', 'os', 'variant'] });
      image(p.operands[0], sink);
      return;
    }
    case 'run':
    case 'create': {
      const p = parseArgs(rest, RUN);
      const pull = valuesOf(p, 'pull');
      if (!pull.includes('never')) image(p.operands[0], sink);
      sink.command(p.operands.slice(1));
      return;
    }
    case 'exec':
      sink.command(parseArgs(rest, EXEC).operands.slice(1));
      return;
    case 'login': {
      const p = parseArgs(rest, { short: 'up', long: ['username', 'password', 'authfile', 'cert-dir'] });
      const server = p.operands[0];
      const hosts = server === undefined ? [] : hostPortList(server);
      if (server === undefined || hosts.some(isDockerHub)) sink.preset('docker');
      else sink.hosts(hosts);
      return;
    }
    default:
      // build, compose, tag, images, ps…: the images involved are not on the command line.
      return;
  }
};

export const CONTAINER_TOOLS: ExtractorTable = {
  docker: container,
  podman: container,
  nerdctl: container,
};
