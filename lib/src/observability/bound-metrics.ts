import {
  Counter,
  type CounterConfiguration,
  Histogram,
  type HistogramConfiguration,
  type LabelValues,
  type MetricObjectWithValues,
  type MetricValue,
  type MetricValueWithName,
} from "prom-client";

/**
 * prom-client metrics with series bound once and bumped in place. prom-client
 * hashes a series' labels on every inc() and observe(), a bound child's too;
 * the gRPC metrics are bumped three times on every call a process serves or
 * makes (bench/analysis.md, the hop). A bound series here is a few numbers its
 * metric reads when scraped: the metric is registered, scraped and read with
 * get() like any other. Series bumped by label (inc(labels)) still work beside
 * the bound ones, on other labels: a series is either bound or bumped by label.
 */

/** Series of one metric by their label values, each made once. */
class BoundSeries<T extends string, S> {
  private readonly byKey = new Map<string, S>();

  constructor(private readonly labelNames: readonly T[]) {}

  get(labels: LabelValues<T>, make: () => S): S {
    const key = this.labelNames.map((name) => String(labels[name] ?? "")).join("\u0000");
    let series = this.byKey.get(key);
    if (series === undefined) {
      series = make();
      this.byKey.set(key, series);
    }
    return series;
  }

  all(): IterableIterator<S> {
    return this.byKey.values();
  }
}

export class BoundCounter<T extends string> extends Counter<T> {
  private readonly bound: BoundSeries<T, { labels: LabelValues<T>; value: number }>;

  constructor(configuration: CounterConfiguration<T>) {
    super(configuration);
    this.bound = new BoundSeries(configuration.labelNames ?? []);
  }

  /** The series of `labels` (the same one each time): inc() is one addition. */
  bind(labels: LabelValues<T>): { inc(): void } {
    const series = this.bound.get(labels, () => ({ labels, value: 0 }));
    return {
      inc: () => {
        series.value += 1;
      },
    };
  }

  override async get(): Promise<MetricObjectWithValues<MetricValue<T>>> {
    const data = await super.get();
    const bound = [...this.bound.all()].filter((series) => series.value > 0).map(({ labels, value }) => ({ labels, value }));
    return { ...data, values: [...data.values, ...bound] };
  }

  override reset(): void {
    super.reset();
    // prom-client's constructor calls reset() before this class's fields exist.
    for (const series of (this.bound as typeof this.bound | undefined)?.all() ?? []) series.value = 0;
  }
}

/** prom-client's histogram has this method (its registry prefers it to get()), untyped. */
interface PromStringSource<T extends string> {
  getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<T>>>;
}

interface HistogramSeries<T extends string> {
  labels: LabelValues<T>;
  /** Observations per bucket, not cumulative; the last one is past every bound (+Inf). */
  counts: number[];
  sum: number;
  count: number;
}

export class BoundHistogram<T extends string> extends Histogram<T> {
  private readonly bound: BoundSeries<T, HistogramSeries<T>>;
  private readonly bounds: readonly number[];
  private readonly metricName: string;

  constructor(configuration: HistogramConfiguration<T> & { buckets: number[] }) {
    super(configuration);
    this.metricName = configuration.name;
    this.bound = new BoundSeries(configuration.labelNames ?? []);
    this.bounds = [...configuration.buckets].sort((a, b) => a - b);
  }

  /** The series of `labels` (the same one each time): observe() is a bucket search and three additions. */
  bind(labels: LabelValues<T>): { observe(value: number): void } {
    const series = this.bound.get(labels, () => ({ labels, counts: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 }));
    const { bounds } = this;
    return {
      observe: (value) => {
        let bucket = 0;
        while (bucket < bounds.length && value > bounds[bucket]!) bucket += 1;
        series.counts[bucket]! += 1;
        series.sum += value;
        series.count += 1;
      },
    };
  }

  /**
   * What prom-client's registry scrapes (get() reads it too, then merges each
   * value's labels): the bucket, sum and count lines of every series, in the
   * shape prom-client's own histogram gives them.
   */
  async getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<T>>> {
    const data = await (Histogram.prototype as unknown as PromStringSource<T>).getForPromString.call(this);
    // Exemplars as prom-client's histogram leaves them without any: null on buckets, undefined on sum and count.
    const line = (suffix: string, labels: LabelValues<string>, series: HistogramSeries<T>, value: number) =>
      ({ labels, sharedLabels: series.labels, value, metricName: `${this.metricName}${suffix}`, exemplar: suffix === "_bucket" ? null : undefined }) as MetricValueWithName<T>;
    const values: MetricValueWithName<T>[] = [];
    for (const series of this.bound.all()) {
      if (series.count === 0) continue;
      let cumulative = 0;
      this.bounds.forEach((le, index) => {
        cumulative += series.counts[index]!;
        values.push(line("_bucket", { le }, series, cumulative));
      });
      values.push(line("_bucket", { le: "+Inf" }, series, series.count), line("_sum", {}, series, series.sum), line("_count", {}, series, series.count));
    }
    return { ...data, values: [...data.values, ...values] };
  }

  override reset(): void {
    super.reset();
    for (const series of (this.bound as typeof this.bound | undefined)?.all() ?? []) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }
}
