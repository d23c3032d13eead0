// Decodes the Kubernetes protobuf encoding of the one kind clients send this fake as protobuf:
// core/v1 Secrets (helm's release storage, `kubectl create secret`). The wire format is the API
// server's: the magic "k8s\0", then a runtime.Unknown (typeMeta, raw object bytes), the raw bytes
// being a v1.Secret message (generated.proto of k8s.io/api). Test-only; answers are always JSON.

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

type Field = { number: number; wire: number; value: bigint | Buffer };

function fields(buffer: Buffer): Field[] {
  const out: Field[] = [];
  let offset = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (offset >= buffer.length) throw new Error("truncated varint");
      const byte = buffer[offset++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (offset < buffer.length) {
    const key = Number(varint());
    const number = key >> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ number, wire, value: varint() });
    else if (wire === 2) {
      const length = Number(varint());
      out.push({ number, wire, value: buffer.subarray(offset, offset + length) });
      offset += length;
    } else if (wire === 1) {
      out.push({ number, wire, value: buffer.subarray(offset, offset + 8) });
      offset += 8;
    } else if (wire === 5) {
      out.push({ number, wire, value: buffer.subarray(offset, offset + 4) });
      offset += 4;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return out;
}

const text = (value: bigint | Buffer) => (value as Buffer).toString("utf8");

/** A map<string, string|bytes> entry: key = field 1, value = field 2. */
function entry(value: Buffer): [string, Buffer] {
  const parts = fields(value);
  const key = parts.find((f) => f.number === 1);
  const item = parts.find((f) => f.number === 2);
  return [key ? text(key.value) : "", item ? (item.value as Buffer) : Buffer.alloc(0)];
}

function objectMeta(buffer: Buffer): Record<string, unknown> {
  const meta: Record<string, unknown> = {};
  const labels: Record<string, string> = {};
  const annotations: Record<string, string> = {};
  const finalizers: string[] = [];
  for (const field of fields(buffer)) {
    switch (field.number) {
      case 1:
        meta.name = text(field.value);
        break;
      case 2:
        meta.generateName = text(field.value);
        break;
      case 3:
        meta.namespace = text(field.value);
        break;
      case 5:
        meta.uid = text(field.value);
        break;
      case 6:
        meta.resourceVersion = text(field.value);
        break;
      case 11: {
        const [key, value] = entry(field.value as Buffer);
        labels[key] = value.toString("utf8");
        break;
      }
      case 12: {
        const [key, value] = entry(field.value as Buffer);
        annotations[key] = value.toString("utf8");
        break;
      }
      case 14:
        finalizers.push(text(field.value));
        break;
    }
  }
  if (Object.keys(labels).length > 0) meta.labels = labels;
  if (Object.keys(annotations).length > 0) meta.annotations = annotations;
  if (finalizers.length > 0) meta.finalizers = finalizers;
  return meta;
}

/** The JSON form of a protobuf-encoded object; throws for any kind but v1 Secret. */
export function decodeProtobuf(body: Buffer): Record<string, unknown> {
  if (!body.subarray(0, 4).equals(MAGIC)) throw new Error("not a Kubernetes protobuf body (no k8s magic)");
  const unknown = fields(body.subarray(4));
  const typeMeta = unknown.find((f) => f.number === 1);
  const raw = unknown.find((f) => f.number === 2);
  let apiVersion = "";
  let kind = "";
  for (const field of typeMeta ? fields(typeMeta.value as Buffer) : []) {
    if (field.number === 1) apiVersion = text(field.value);
    if (field.number === 2) kind = text(field.value);
  }
  if (apiVersion !== "v1" || kind !== "Secret")
    throw new Error(`the fake API server decodes protobuf only for v1 Secrets, not ${apiVersion} ${kind}`);
  const secret: Record<string, unknown> = { apiVersion, kind, metadata: {} };
  const data: Record<string, string> = {};
  const stringData: Record<string, string> = {};
  for (const field of fields((raw?.value as Buffer | undefined) ?? Buffer.alloc(0))) {
    switch (field.number) {
      case 1:
        secret.metadata = objectMeta(field.value as Buffer);
        break;
      case 2: {
        const [key, value] = entry(field.value as Buffer);
        data[key] = value.toString("base64");
        break;
      }
      case 3:
        secret.type = text(field.value);
        break;
      case 4: {
        const [key, value] = entry(field.value as Buffer);
        stringData[key] = value.toString("utf8");
        break;
      }
      case 5:
        secret.immutable = field.value === 1n;
        break;
    }
  }
  if (Object.keys(data).length > 0) secret.data = data;
  if (Object.keys(stringData).length > 0) secret.stringData = stringData;
  return secret;
}
