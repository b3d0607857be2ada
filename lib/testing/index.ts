/**
 * `sluice/testing`: doubles and real servers for tests of code built on sluice. The
 * MemorySource stands in for a store and the FaultySource wraps any source to fail, stall,
 * delay, truncate or trickle its requests; the S3 server and the fault proxy are real
 * network peers on loopback.
 */
export { MemorySource } from '../source/memory-source.js'
export {
  FaultySource,
  type FaultySourceOptions,
  type SourceFault,
  type FaultMatch,
  type FaultAction,
  type SourceOperation,
  type SourceRequest,
} from './faulty-source.js'
export { startS3Server, type S3Server, type S3ServerOptions } from './s3-server.js'
export { startFaultProxy, type FaultProxy, type FaultProxyOptions, type Fault } from './fault-proxy.js'
export { seededRandom } from './seeded-random.js'
export {
  startRedisCluster,
  startRedisServer,
  redisClusterMissing,
  redisServerMissing,
  type RedisCluster,
  type RedisClusterOptions,
  type RedisServer,
  type RedisServerOptions,
} from './redis-cluster.js'
