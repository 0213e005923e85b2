// The launcher's last Redis check before it starts anything: the connection the services will make, through
// their own factory (`@rtv/bus`), with this environment's RTV_REDIS_MODE, REDIS_URL, REDIS_PASSWORD,
// RTV_REDIS_TLS_CA_FILE and sentinel settings. The dependency-free probes in redis.mjs find a Redis (or start
// one) before `npm ci` may have run; this one proves that what they found is what a service can use.
// Prints nothing and exits 0 when Redis answers; otherwise one line on stderr and exit 1.
import { createRedis, isCluster, redisTopologyFromEnv, waitReady } from '@rtv/bus';

const TIMEOUT_MS = 5000;
/** Errors no retry will cure: say so now instead of after the timeout. */
const REFUSED = /WRONGPASS|NOAUTH|invalid password|invalid username-password|NOPERM/i;

async function main(): Promise<void> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const topology = redisTopologyFromEnv();
  let refused: (err: Error) => void = () => {};
  const refusal = new Promise<never>((_, reject) => {
    refused = reject;
  });
  const client = createRedis(url, {
    name: 'rtv-launcher-check',
    role: 'producer',
    topology,
    onError: (err) => {
      if (REFUSED.test(err.message)) refused(err);
    },
  });
  try {
    await Promise.race([waitReady(client, TIMEOUT_MS), refusal]);
    await client.ping();
    if (isCluster(client)) {
      const info = await client.cluster('INFO');
      if (!/cluster_state:ok/.test(String(info))) throw new Error('the cluster reports cluster_state:fail');
    }
  } finally {
    client.disconnect();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
