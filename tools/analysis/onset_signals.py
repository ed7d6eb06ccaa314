#!/usr/bin/env python3
"""Onset signals of the hot-object task (docs/PREDICTOR.md, "Is the target
reachable?"): for signals of the past of each object at an origin o (it has
seen y[..o-1]), the share of onsets with the signal on at one of their
anticipating origins (tau-W+1..tau) and the precision of alarming whenever
it is on; then a hindsight bound: origins grouped into coarse cells of these
signals (>= 10 origins each), cells chosen greedily by their precision ON
THE TEST PART (cheating on purpose), best anticipation at precision >= 0.5.

Bucketing and protocol as tools/shadow-eval (../shared/traces/README.md).
Pure Python 3, no packages.  usage: onset_signals.py TRACES_DIR
"""
import csv
import sys


def load(path, bucket):
    rows = [(int(float(r['timestamp'])), r['key'], float(r['count']))
            for r in csv.DictReader(open(path))]
    ts = sorted(set(r[0] for r in rows))
    per = min(b - a for a, b in zip(ts, ts[1:]))
    b0, b1 = ts[0] // bucket, ts[-1] // bucket
    if ts[0] > b0 * bucket:            # partial first bucket dropped
        b0 += 1
    if ts[-1] + per < (b1 + 1) * bucket:  # partial last bucket dropped
        b1 -= 1
    n = b1 - b0 + 1
    y, last = {}, {}
    for t, k, c in rows:
        y.setdefault(k, [0.0] * n)
        last.setdefault(k, -1)
        b = t // bucket - b0
        if 0 <= b < n:
            y[k][b] += c
            last[k] = max(last[k], b)
    return y, last, n


def p99(v):
    s = sorted(v)
    p = 0.99 * (len(s) - 1)
    lo = int(p)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (p - lo)


def setup(traces, name):
    if name == 'nab_tweets':
        y, last, n = load(traces + '/nab_tweets_5min.csv', 3600)
        train, m, W = 504, 24, 6
        objs = list(y.values())
    else:
        y, last, n = load(traces + '/cloudphysics_vm25_30min.csv', 1800)
        train, m, W = 192, 48, 6
        n = min(n, 300)
        objs = [v for k, v in y.items() if last[k] + 1 >= 300]
    objs = [v[:n] for v in objs]
    return objs, [p99(v[:train]) for v in objs], n, train, m, W


def onsets(y, C, train, n, W):
    return [tau for tau in range(train, n) if y[tau] > C and
            not any(j >= 0 and y[j] > C for j in range(tau - W, tau))]


def signals(y, C, t, m, W):
    lv = max(y[t - W:t]) / C if C > 0 else 0
    sn = max(y[t - m:t - m + W]) / C if C > 0 else 0
    seen = 0  # past periods (up to 7) in which this phase window exceeded C
    for k in range(1, 8):
        if t - k * m >= 0:
            seen += any(y[j] > C for j in range(t - k * m, min(t - k * m + W, t)))
    g = y[t - 1] / (y[t - 2] + 1)
    s = {'level >= 0.9 C': lv >= 0.9, 'level >= 0.7 C': lv >= 0.7,
         'level >= 0.5 C': lv >= 0.5, 'seasonal naive > C': sn > 1,
         'phase over C in >= 1 of 7 periods': seen >= 1,
         'phase over C in >= 2 of 7 periods': seen >= 2,
         'growth x1.5 and level >= 0.5 C': g >= 1.5 and y[t - 1] >= 0.5 * C,
         'active (y > C in the last W)': lv > 1}
    cell = (min(int(lv / 0.25), 4), min(int(sn / 0.5), 2), min(seen, 2), g >= 1.2)
    return s, cell


def main():
    traces = sys.argv[1] if len(sys.argv) > 1 else '../shared/traces'
    for name in ('nab_tweets', 'cloudphysics_vm25'):
        objs, caps, n, train, m, W = setup(traces, name)
        S, ons, cells = {}, [], {}
        for k, (y, C) in enumerate(zip(objs, caps)):
            for t in range(train, n - W + 1):
                s, c = signals(y, C, t, m, W)
                truth = any(y[j] > C for j in range(t, t + W))
                S[(k, t)] = (s, c, truth)
                st = cells.setdefault(c, [0, 0])
                st[0] += 1
                st[1] += truth
            for tau in onsets(y, C, train, n, W):
                ons.append([(k, o) for o in range(tau - W + 1, tau + 1)
                            if o >= train and o + W <= n])
        print('%s: %d onsets, %d origins, %d with max over the window > C'
              % (name, len(ons), len(S), sum(v[2] for v in S.values())))
        names = list(next(iter(S.values()))[0])
        for nm in names + ['any of the above']:
            def on(kt):
                s = S[kt][0]
                return any(s.values()) if nm == 'any of the above' else s[nm]
            al = sum(on(kt) for kt in S)
            tp = sum(on(kt) and S[kt][2] for kt in S)
            cov = sum(any(on(kt) for kt in os) for os in ons) / len(ons)
            print('  %-36s onsets with it %.2f  alarms %5d  precision %.2f'
                  % (nm, cov, al, tp / al if al else 0))
        order = sorted([c for c in cells if cells[c][0] >= 10],
                       key=lambda c: -(cells[c][1] / cells[c][0]))
        chosen, tp, al, best = set(), 0, 0, (0, 0, 0)
        for c in order:
            chosen.add(c)
            al += cells[c][0]
            tp += cells[c][1]
            ant = sum(any(S[kt][1] in chosen for kt in os) for os in ons) / len(ons)
            if tp / al >= 0.5 and ant > best[1]:
                best = (tp / al, ant, al)
        print('  hindsight cells (%d of >= 10 origins): best anticipation at '
              'precision >= 0.5: %.2f (precision %.2f, %d alarms)'
              % (len(order), best[1], best[0], best[2]))


if __name__ == '__main__':
    main()
