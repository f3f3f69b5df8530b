import { Registry, type Metric } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { KeyedCounter, LabelledHistogram } from '../../src/telemetry/query-metrics.js';

async function scrape(...metrics: object[]): Promise<string> {
  const registry = new Registry();
  for (const m of metrics) registry.registerMetric(m as Metric);
  return registry.metrics();
}

describe('KeyedCounter', () => {
  it('counts per group and key and shows each series with the labels it was created with', async () => {
    const c = new KeyedCounter('t_queries_total', 'Queries.');
    const count = (group: string, key: number | string, labels: Record<string, string>): void => {
      if (!c.add(group, key)) c.create(group, key, labels);
    };
    count('coding', 1, { role: 'coding', action: 'forward' });
    count('coding', 1, { role: 'ignored', action: 'ignored' });
    count('coding', 2, { role: 'coding', action: 'sinkhole' });
    count('ci', 1, { role: 'ci', action: 'forward' });
    count('ci', 'x', { role: 'ci', action: 'refuse' });
    const text = await scrape(c);
    expect(text).toContain('# TYPE t_queries_total counter');
    expect(text).toContain('t_queries_total{role="coding",action="forward"} 2');
    expect(text).toContain('t_queries_total{role="coding",action="sinkhole"} 1');
    expect(text).toContain('t_queries_total{role="ci",action="forward"} 1');
    expect(text).toContain('t_queries_total{role="ci",action="refuse"} 1');
    expect(text).not.toContain('ignored');
  });
});

describe('LabelledHistogram', () => {
  it('exposes cumulative buckets, +Inf, sum and count per label value', async () => {
    const h = new LabelledHistogram('t_duration_seconds', 'Durations.', 'action', [0.001, 0.01, 0.1]);
    for (const v of [0.0005, 0.001, 0.005, 0.05, 2]) h.observe('forward', v);
    h.observe('sinkhole', 0.0001);
    const text = await scrape(h);
    expect(text).toContain('# TYPE t_duration_seconds histogram');
    expect(text).toContain('t_duration_seconds_bucket{le="0.001",action="forward"} 2');   // 0.0005 and 0.001 (le is inclusive)
    expect(text).toContain('t_duration_seconds_bucket{le="0.01",action="forward"} 3');
    expect(text).toContain('t_duration_seconds_bucket{le="0.1",action="forward"} 4');
    expect(text).toContain('t_duration_seconds_bucket{le="+Inf",action="forward"} 5');
    expect(text).toContain('t_duration_seconds_count{action="forward"} 5');
    expect(text).toMatch(/t_duration_seconds_sum\{action="forward"\} 2\.0565/);
    expect(text).toContain('t_duration_seconds_bucket{le="0.001",action="sinkhole"} 1');
  });
});
