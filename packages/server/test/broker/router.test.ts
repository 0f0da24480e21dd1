/**
 * The topic router: matching in registration order, one parse per request, registration errors, and
 * over a real broker the dispatch of a routed request with its parsed topic, and what happens to a
 * request topic no route handles.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import {
  BrokerBus,
  BrokerError,
  startBroker,
  TopicRouter,
  type Broker,
  type RequestFacts,
  type RoutedRequest,
  type TopicMatcher,
} from '../../src/broker/index.js';
import {
  CLAIM_POLICY,
  OPEN_POLICY,
  TestAuthority,
  captureLogger,
  connectDevice,
  createLab,
  endAll,
  nextMessage,
  policy,
  waitForLog,
  type DeviceCredentials,
  type Lab,
  type LogLine,
} from './helpers.js';

/** A matcher of `svc/<name>/do`, counting how often it parsed. */
function countingMatcher(service: string, allowsWill = true): TopicMatcher<{ name: string }> & { calls: string[] } {
  const calls: string[] = [];
  return {
    description: `${service} request`,
    allowsWill,
    calls,
    match(topic) {
      calls.push(topic);
      const levels = topic.split('/');
      return levels.length === 3 && levels[0] === service && levels[2] === 'do' ? { name: levels[1] as string } : null;
    },
  };
}

const facts = (topic: string): RequestFacts => ({
  topic,
  payload: Buffer.from('x'),
  clientId: 'c1',
  principal: { certificateId: 'cert', context: { clientId: 'c1' }, authorize: () => ({ allowed: true, reason: '' }) },
});

describe('TopicRouter', () => {
  test('the first route whose matcher recognises the topic gets it, with the topic parsed once', async () => {
    const first = countingMatcher('a');
    const second = countingMatcher('b', false);
    const seen: Array<RoutedRequest<{ name: string }>> = [];
    const router = new TopicRouter()
      .handle(first, async (req) => {
        seen.push(req);
        return { topic: `a/${req.parsed.name}/done`, payload: req.payload };
      })
      .handle(second, async () => null);
    assert.equal(router.size, 2);

    const match = router.match('a/pump-7/do');
    assert.ok(match !== null);
    assert.equal(match.description, 'a request');
    assert.equal(match.allowsWill, true);
    assert.deepEqual(first.calls, ['a/pump-7/do']);
    assert.deepEqual(second.calls, [], 'later routes are not tried once one matched');
    const reply = await match.run(facts('a/pump-7/do'));
    assert.equal(reply?.topic, 'a/pump-7/done');
    assert.deepEqual(seen[0]?.parsed, { name: 'pump-7' });
    assert.equal(seen[0]?.topic, 'a/pump-7/do');
    assert.equal(seen[0]?.clientId, 'c1');
    assert.equal(first.calls.length, 1, 'running the handler does not parse the topic again');

    const b = router.match('b/x/do');
    assert.equal(b?.allowsWill, false);
    assert.deepEqual(second.calls, ['b/x/do']);
  });

  test('a topic no route recognises matches nothing', () => {
    const matcher = countingMatcher('a');
    const router = new TopicRouter().handle(matcher, async () => null);
    assert.equal(router.match('a/x/other'), null);
    assert.equal(router.match('$aws/certificates/create/json'), null);
    assert.equal(new TopicRouter().match('a/x/do'), null);
  });

  test('a malformed route or a matcher registered twice is refused', () => {
    const matcher = countingMatcher('a');
    const router = new TopicRouter().handle(matcher, async () => null);
    assert.throws(
      () => router.handle(matcher, async () => null),
      (err: unknown) => err instanceof BrokerError && err.code === 'InvalidOption' && /already registered/.test(err.message),
    );
    assert.throws(() => router.handle(countingMatcher('b'), 'nope' as never), { code: 'InvalidOption' });
    assert.throws(() => router.handle({ description: 'x', allowsWill: true } as never, async () => null), { code: 'InvalidOption' });
  });
});

describe('BrokerBus', () => {
  test('before a broker binds it, a publish reaches no one and no connection is closed', async () => {
    const bus = new BrokerBus();
    assert.equal(bus.bound, false);
    await bus.publish('a/b', 'x');
    assert.equal(bus.disconnectCertificate('cert', 'test'), 0);
  });
});

describe('routed requests over the broker', () => {
  let lab: Lab;
  let broker: Broker;
  let lines: LogLine[];
  let claim: DeviceCredentials;
  let open: DeviceCredentials;
  const bus = new BrokerBus();
  const svc = countingMatcher('svc');
  const handled: Array<RoutedRequest<{ name: string }>> = [];

  before(async () => {
    lab = await createLab();
    claim = await lab.device('router-claim');
    open = await lab.device('router-open');
    const authority = new TestAuthority();
    authority.register(claim.certificateId, [policy('claim', CLAIM_POLICY)]);
    authority.register(open.certificateId, [policy('open', OPEN_POLICY)]);
    const captured = captureLogger();
    lines = captured.lines;
    const router = new TopicRouter().handle(svc, async (req) => {
      handled.push(req);
      return { topic: `svc/${req.parsed.name}/done`, payload: Buffer.from(req.parsed.name) };
    });
    broker = await startBroker({ host: '127.0.0.1', port: 0, tls: lab.serverTls, authority, router, bus, logger: captured.logger });
  });
  after(async () => {
    await broker.close();
  });

  test('startBroker binds the bus to the broker', () => {
    assert.equal(bus.bound, true);
  });

  test('a routed request reaches its handler with the parsed topic, once, and is not routed to subscribers', async () => {
    const clients: MqttClient[] = [];
    try {
      const requester = await connectDevice(broker.port, lab, open, { clientId: 'routed-requester' });
      const watcher = await connectDevice(broker.port, lab, open, { clientId: 'routed-watcher' });
      clients.push(requester, watcher);
      await requester.subscribeAsync('svc/pump-1/done', { qos: 1 });
      const before = svc.calls.length;
      const reply = nextMessage(requester);
      await requester.publishAsync('svc/pump-1/do', 'hello', { qos: 1 });
      const got = await reply;
      assert.equal(got.topic, 'svc/pump-1/done');
      assert.equal(got.payload.toString(), 'pump-1');
      assert.deepEqual(
        svc.calls.slice(before).filter((t) => t === 'svc/pump-1/do'),
        ['svc/pump-1/do'],
        'the topic was parsed once',
      );
      const req = handled.at(-1);
      assert.deepEqual(req?.parsed, { name: 'pump-1' });
      assert.equal(req?.clientId, 'routed-requester');
      assert.equal(req?.principal.certificateId, open.certificateId);
      assert.equal(req?.payload.toString(), 'hello');
      // A wildcard subscriber never receives a request (delivery asks the router what is a request).
      await watcher.subscribeAsync('svc/#', { qos: 1 });
      const seenByWatcher: string[] = [];
      watcher.on('message', (topic) => seenByWatcher.push(topic));
      const second = nextMessage(requester);
      await requester.publishAsync('svc/pump-1/do', 'again', { qos: 1 });
      assert.equal((await second).topic, 'svc/pump-1/done');
      // The watcher's own publish on an ordinary svc/ topic still reaches it: only requests are withheld.
      const own = nextMessage(watcher);
      await watcher.publishAsync('svc/other', 'x', { qos: 1 });
      assert.equal((await own).topic, 'svc/other');
      assert.deepEqual(seenByWatcher, ['svc/other']);
    } finally {
      await endAll(clients);
    }
  });

  test('a Fleet Provisioning request topic no route handles is accepted, logged and never routed', async () => {
    const clients: MqttClient[] = [];
    try {
      const requester = await connectDevice(broker.port, lab, claim, { clientId: 'unrouted' });
      const watcher = await connectDevice(broker.port, lab, claim, { clientId: 'unrouted-watcher' });
      clients.push(requester, watcher);
      await watcher.subscribeAsync('$aws/certificates/create/#', { qos: 1 });
      const seen: string[] = [];
      watcher.on('message', (topic) => seen.push(topic));
      await requester.publishAsync('$aws/certificates/create/json', '{}', { qos: 1 });
      await waitForLog(lines, /client "unrouted": request on \$aws\/certificates\/create\/json ignored: no route of the server handles it/);
      assert.equal(requester.connected, true, 'the client is not disconnected');
      assert.deepEqual(seen, []);
    } finally {
      await endAll(clients);
    }
  });
});
