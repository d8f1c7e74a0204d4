/**
 * Fig. 6 / 7 / 8 — preference models and policies as classifiers: the proxy's
 * accuracy on the online stream, the policy-as-classifier accuracy on D_golden and
 * on its own samples, and the log-probabilities of D_golden's winners over training.
 */
import { metricValue, type MetricRecord } from '../runs/metrics.js';
import { offlineOf, onlineOf } from '../study.js';
import { afterRuns, fmt, greater, lineChart, longRows, measured, metricsOf, pm, runIds, type FigureDef, type FigureResult } from './common.js';

/** Pearson correlation of two metrics over the records after step 0 that have both. */
export function correlation(rs: readonly MetricRecord[], a: string, b: string): number {
  const pts = rs.filter((r) => r.step > 0).map((r) => [metricValue(r, a), metricValue(r, b)] as const).filter(([x, y]) => !Number.isNaN(x) && !Number.isNaN(y));
  const n = pts.length;
  if (n < 3) return NaN;
  const ma = pts.reduce((s, p) => s + p[0], 0) / n;
  const mb = pts.reduce((s, p) => s + p[1], 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (const [x, y] of pts) {
    sab += (x - ma) * (y - mb);
    saa += (x - ma) ** 2;
    sbb += (y - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

export const fig6: FigureDef = {
  name: 'fig6',
  title: 'Fig. 6 / 7 / 8 — classifiers and winner log-probabilities',
  description:
    'Proxy-model accuracy on the online stream (judged by the golden model), the policy-as-classifier accuracy (App. E) on D_golden pairs and on ' +
    'its own samples, and the mean log-probability of D_golden\'s winning responses, for online and offline IPO.',
  program: (s) => {
    const online = onlineOf(s);
    const offline = offlineOf(s);
    return afterRuns([online, offline], async (env) => {
        const [mo, mf] = await Promise.all([metricsOf(env, online), metricsOf(env, offline)]);
        const [io, iff] = runIds(env, [online, offline]);
        const lastO = mo[mo.length - 1];
        const lastF = mf[mf.length - 1];
        const first = mo[0];
        const corr = correlation([...mo, ...mf], 'accGolden', 'winRate');
        const dropO = metricValue(first, 'winnerLogProb') - metricValue(lastO, 'winnerLogProb');
        const dropF = metricValue(mf[0], 'winnerLogProb') - metricValue(lastF, 'winnerLogProb');
        const meanProxy = measured(mo, 'proxyAccuracy');
        const out: FigureResult = {
          name: 'fig6', title: fig6.title, description: fig6.description,
          charts: [
            { name: 'fig6-proxy', title: 'Proxy accuracy on the online stream', spec: lineChart('proxy model accuracy on recent online pairs (golden labels)', longRows('online', mo, ['proxyAccuracy'], io), 'accuracy') },
            { name: 'fig7-classifier', title: 'Policy as classifier', spec: lineChart('policy-as-classifier accuracy', [...longRows('online · D_golden', mo, ['accGolden'], io), ...longRows('offline · D_golden', mf, ['accGolden'], iff), ...longRows('online · online stream', mo, ['accStream'], io), ...longRows('online · own samples', mo, ['selfAccuracy'], io), ...longRows('offline · own samples', mf, ['selfAccuracy'], iff)], 'accuracy') },
            { name: 'fig8-logprob', title: 'Log-probability of D_golden winners', spec: lineChart('mean log π(y_w | x) over D_golden winners', [...longRows('online', mo, ['winnerLogProb'], io), ...longRows('offline', mf, ['winnerLogProb'], iff)], 'log-prob') },
          ],
          tables: [{
            title: 'Final values',
            columns: ['run', 'accuracy on D_golden', 'accuracy on the online stream', 'self-classification', 'winner log-prob', 'win rate'],
            rows: [['online', pm(lastO, 'accGolden'), pm(lastO, 'accStream'), pm(lastO, 'selfAccuracy'), pm(lastO, 'winnerLogProb'), pm(lastO, 'winRate')],
              ['offline', pm(lastF, 'accGolden'), 'n/a', pm(lastF, 'selfAccuracy'), pm(lastF, 'winnerLogProb'), pm(lastF, 'winRate')]],
          }],
          findings: [
            {
              claim: 'Offline training makes the policy a better classifier of D_golden than online training does',
              holds: greater(lastF?.metrics.accGolden, lastO?.metrics.accGolden),
              detail: `accuracy on D_golden: offline ${pm(lastF, 'accGolden')} vs online ${pm(lastO, 'accGolden')}`,
            },
            {
              claim: 'Classification accuracy is not predictive of win rate',
              holds: Number.isNaN(corr) ? null : Math.abs(corr) < 0.5,
              detail: `Pearson correlation between accuracy on D_golden and win rate over all evaluations: ${fmt(corr)}`,
            },
            {
              claim: "The log-probability of D_golden's winners falls during training, most for offline",
              holds: Number.isNaN(dropO) || Number.isNaN(dropF) ? null : dropO > 0 && dropF > 0 && dropF > dropO,
              detail: `drop online ${fmt(dropO)} nats, offline ${fmt(dropF)} nats`,
            },
            {
              claim: 'The proxy model is an imperfect judge of on-policy samples (accuracy well below 1)',
              holds: meanProxy.length ? meanProxy.reduce((a, b) => a + b, 0) / meanProxy.length < 0.9 : null,
              detail: `mean proxy accuracy on recent online pairs ${fmt(meanProxy.reduce((a, b) => a + b, 0) / Math.max(1, meanProxy.length))}`,
            },
          ],
          runs: runIds(env, [online, offline]),
        };
        return out;
    });
  },
};
