/**
 * Hand-written protobuf encoders for the few TensorBoard messages xp writes.
 *
 * Field numbers follow TensorBoard's public .proto files: tensorboard/compat/proto/{event,
 * summary,tensor,tensor_shape,histogram,types}.proto and tensorboard/plugins/hparams/
 * {plugin_data,api}.proto, plus google/protobuf/struct.proto for hparam values. Only the
 * fields xp sets are encoded; a generated codec would pull in hundreds of unused messages.
 */
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

/** tensorflow.DataType (types.proto), the members xp uses. */
export const DataType = { FLOAT: 1, STRING: 7 } as const;

/** tensorboard.DataClass (summary.proto), the members xp uses: how the data loaders store a time series. */
export const DataClass = { TENSOR: 2, BLOB_SEQUENCE: 3 } as const;

/** SessionLog.SessionStatus (event.proto), the member xp writes. */
export const SessionStatus = { START: 1 } as const;

export interface TensorProto {
  dtype: number;
  /** Dimension sizes; [] is a scalar. */
  shape: number[];
  floatVal?: number[];
  stringVal?: Uint8Array[];
}

export interface HistogramProto {
  min: number;
  max: number;
  num: number;
  sum: number;
  sumSquares: number;
  /** Right edge of each bucket; the first bucket starts at -DBL_MAX. */
  bucketLimit: number[];
  bucket: number[];
}

export interface SummaryMetadata {
  pluginName: string;
  /** The plugin's own serialized message; empty means "version 0, defaults". */
  content?: Uint8Array;
  dataClass?: number;
}

/** A Summary.Value: a tag, optional plugin metadata and exactly one payload. */
export type SummaryValue = { tag: string; metadata?: SummaryMetadata } & (
  | { simpleValue: number }
  | { histo: HistogramProto }
  | { tensor: TensorProto }
);

/** An Event with exactly one member of its `what` oneof. */
export type Event = { wallTime: number; step?: number } & (
  | { fileVersion: string }
  | { summary: SummaryValue[] }
  | { sessionStatus: number }
);

type FieldWriter = (w: BinaryWriter) => void;

function writeMessageField(w: BinaryWriter, fieldNo: number, writeBody: FieldWriter): void {
  w.tag(fieldNo, WireType.LengthDelimited).fork();
  writeBody(w);
  w.join();
}

function writeStringField(w: BinaryWriter, fieldNo: number, value: string): void {
  w.tag(fieldNo, WireType.LengthDelimited).string(value);
}

function writeBytesField(w: BinaryWriter, fieldNo: number, value: Uint8Array): void {
  w.tag(fieldNo, WireType.LengthDelimited).bytes(value);
}

function writeDoubleField(w: BinaryWriter, fieldNo: number, value: number): void {
  w.tag(fieldNo, WireType.Bit64).double(value);
}

function writeVarintField(w: BinaryWriter, fieldNo: number, value: number): void {
  w.tag(fieldNo, WireType.Varint).int64(value);
}

function writePackedDoubles(w: BinaryWriter, fieldNo: number, values: number[]): void {
  writeMessageField(w, fieldNo, (inner) => values.forEach((v) => inner.double(v)));
}

function encode(writeBody: FieldWriter): Uint8Array {
  const w = new BinaryWriter();
  writeBody(w);
  return w.finish();
}

export function encodeEvent(event: Event): Uint8Array {
  return encode((w) => {
    writeDoubleField(w, 1, event.wallTime);
    if (event.step !== undefined) writeVarintField(w, 2, event.step);
    if ('fileVersion' in event) writeStringField(w, 3, event.fileVersion);
    else if ('summary' in event) writeMessageField(w, 5, (s) => writeSummary(s, event.summary));
    else writeMessageField(w, 7, (log) => writeVarintField(log, 1, event.sessionStatus));
  });
}

function writeSummary(w: BinaryWriter, values: SummaryValue[]): void {
  for (const value of values) writeMessageField(w, 1, (v) => writeSummaryValue(v, value));
}

function writeSummaryValue(w: BinaryWriter, value: SummaryValue): void {
  writeStringField(w, 1, value.tag);
  if ('simpleValue' in value) w.tag(2, WireType.Bit32).float(toFloat32(value.simpleValue));
  else if ('histo' in value) writeMessageField(w, 5, (h) => writeHistogram(h, value.histo));
  else writeMessageField(w, 8, (t) => writeTensor(t, value.tensor));
  const metadata = value.metadata;
  if (metadata) writeMessageField(w, 9, (m) => writeSummaryMetadata(m, metadata));
}

/**
 * A float field holds 32 bits: a value beyond float32's range (a learning rate of 1e39, a
 * diverged loss) is recorded as the infinity it rounds to, as TensorBoard's own writers do,
 * where the protobuf library would refuse it and end the run.
 */
function toFloat32(value: number): number {
  return Math.fround(value);
}

function writeSummaryMetadata(w: BinaryWriter, metadata: SummaryMetadata): void {
  writeMessageField(w, 1, (pluginData) => {
    writeStringField(pluginData, 1, metadata.pluginName);
    if (metadata.content?.length) writeBytesField(pluginData, 2, metadata.content);
  });
  if (metadata.dataClass !== undefined) writeVarintField(w, 4, metadata.dataClass);
}

function writeTensor(w: BinaryWriter, tensor: TensorProto): void {
  writeVarintField(w, 1, tensor.dtype);
  writeMessageField(w, 2, (shape) => {
    for (const size of tensor.shape) writeMessageField(shape, 2, (dim) => writeVarintField(dim, 1, size));
  });
  const floats = tensor.floatVal ?? [];
  if (floats.length) writeMessageField(w, 5, (packed) => floats.forEach((f) => packed.float(toFloat32(f))));
  for (const s of tensor.stringVal ?? []) writeBytesField(w, 8, s);
}

function writeHistogram(w: BinaryWriter, histo: HistogramProto): void {
  writeDoubleField(w, 1, histo.min);
  writeDoubleField(w, 2, histo.max);
  writeDoubleField(w, 3, histo.num);
  writeDoubleField(w, 4, histo.sum);
  writeDoubleField(w, 5, histo.sumSquares);
  writePackedDoubles(w, 6, histo.bucketLimit);
  writePackedDoubles(w, 7, histo.bucket);
}

// ---- HParams plugin (tensorboard/plugins/hparams/plugin_data.proto, api.proto) ----

export type HParamValue = number | string | boolean;

/** hparams api.proto Status. */
export const SessionEndStatus = { unknown: 0, success: 1, failure: 2, running: 3 } as const;

/** hparams api.proto DataType. */
export const HParamType = { string: 1, bool: 2, float64: 3 } as const;

export interface SessionStartInfo {
  hparams: Record<string, HParamValue>;
  groupName?: string;
  startTimeSecs: number;
}

export interface SessionEndInfo {
  status: keyof typeof SessionEndStatus;
  endTimeSecs: number;
}

export interface HParamInfo {
  name: string;
  type?: keyof typeof HParamType;
  /** A discrete set of values, or a closed numeric interval. */
  domain?: HParamValue[] | { min: number; max: number };
}

export interface MetricInfo {
  tag: string;
  /** The run sub-directory the metric is logged in, relative to each session's run; '' for the run itself. */
  group?: string;
  displayName?: string;
}

export interface ExperimentInfo {
  hparams: HParamInfo[];
  metrics: MetricInfo[];
  timeCreatedSecs?: number;
}

/**
 * HParamsPluginData content. `version` (field 1) is left at its default 0, the only version the
 * plugin accepts, and proto3 omits default scalars.
 */
export function encodeSessionStartInfo(info: SessionStartInfo): Uint8Array {
  return encode((w) =>
    writeMessageField(w, 3, (start) => {
      for (const [name, value] of Object.entries(info.hparams)) {
        // A proto map is a repeated entry message {key = 1, value = 2}.
        writeMessageField(start, 1, (entry) => {
          writeStringField(entry, 1, name);
          writeMessageField(entry, 2, (v) => writeProtobufValue(v, value));
        });
      }
      if (info.groupName) writeStringField(start, 4, info.groupName);
      writeDoubleField(start, 5, info.startTimeSecs);
    }),
  );
}

export function encodeSessionEndInfo(info: SessionEndInfo): Uint8Array {
  return encode((w) =>
    writeMessageField(w, 4, (end) => {
      writeVarintField(end, 1, SessionEndStatus[info.status]);
      writeDoubleField(end, 2, info.endTimeSecs);
    }),
  );
}

export function encodeExperiment(experiment: ExperimentInfo): Uint8Array {
  return encode((w) =>
    writeMessageField(w, 2, (exp) => {
      if (experiment.timeCreatedSecs !== undefined) writeDoubleField(exp, 3, experiment.timeCreatedSecs);
      for (const hparam of experiment.hparams) writeMessageField(exp, 4, (h) => writeHParamInfo(h, hparam));
      for (const metric of experiment.metrics) writeMessageField(exp, 5, (m) => writeMetricInfo(m, metric));
    }),
  );
}

function writeHParamInfo(w: BinaryWriter, hparam: HParamInfo): void {
  writeStringField(w, 1, hparam.name);
  const type = hparam.type ?? inferHParamType(hparam.domain);
  if (type) writeVarintField(w, 4, HParamType[type]);
  const domain = hparam.domain;
  if (Array.isArray(domain)) {
    // google.protobuf.ListValue {repeated Value values = 1}
    writeMessageField(w, 5, (list) => domain.forEach((v) => writeMessageField(list, 1, (item) => writeProtobufValue(item, v))));
  } else if (domain) {
    writeMessageField(w, 6, (interval) => {
      writeDoubleField(interval, 1, domain.min);
      writeDoubleField(interval, 2, domain.max);
    });
  }
}

/** The dashboard filters by type, so derive it from the domain when the caller gave none. */
function inferHParamType(domain: HParamInfo['domain']): HParamInfo['type'] {
  if (domain === undefined) return undefined;
  if (!Array.isArray(domain)) return 'float64';
  const first = domain[0];
  if (typeof first === 'number') return 'float64';
  if (typeof first === 'boolean') return 'bool';
  return typeof first === 'string' ? 'string' : undefined;
}

function writeMetricInfo(w: BinaryWriter, metric: MetricInfo): void {
  writeMessageField(w, 1, (name) => {
    if (metric.group) writeStringField(name, 1, metric.group);
    writeStringField(name, 2, metric.tag);
  });
  if (metric.displayName) writeStringField(w, 3, metric.displayName);
}

/**
 * google.protobuf.Value: number_value = 2 (double), string_value = 3, bool_value = 4. These
 * are oneof members, so false and 0 are written explicitly (presence matters).
 */
function writeProtobufValue(w: BinaryWriter, value: HParamValue): void {
  if (typeof value === 'number') writeDoubleField(w, 2, value);
  else if (typeof value === 'string') writeStringField(w, 3, value);
  else w.tag(4, WireType.Varint).bool(value);
}
