#!/usr/bin/env node
// A DICOMweb conformance run (PS3.18 STOW-RS, QIDO-RS, WADO-RS) driven by dicomweb-client, the client OHIF uses,
// against a running server. Every expectation comes from the corpus: its MANIFEST.json (DCMTK's figures and
// decoded-pixel hashes) and DCMTK's dcm2json oracle, never from the server's own answers.
//
//   node conformance.mjs --url http://127.0.0.1:8080/dicomweb [--corpus DIR] [--header "Name: value"]... FILE_OR_NAME...
//
// FILE_OR_NAME is a corpus file (files/x.dcm) or its name (x). DIR defaults to $HOUNSFIELD_CORPUS. Extra request
// headers (e.g. credentials) also come from DICOMWEB_HEADERS='{"Authorization":"Bearer <token>"}'.
// The server should hold nothing else of the uploaded studies. Prints one line per check and a summary; exits 1 when
// any check fails, 2 on a usage error.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import XMLHttpRequest from 'xhr2';
import dicomweb from 'dicomweb-client';

// dicomweb-client speaks XMLHttpRequest, as in a browser.
globalThis.XMLHttpRequest = XMLHttpRequest;

const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const NATIVE = ['1.2.840.10008.1.2', EXPLICIT_LE, '1.2.840.10008.1.2.2'];
const LOSSLESS = [...NATIVE, '1.2.840.10008.1.2.1.99', '1.2.840.10008.1.2.5', '1.2.840.10008.1.2.4.57', '1.2.840.10008.1.2.4.70',
  '1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.4.201'];
const LOSSY = ['1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51', '1.2.840.10008.1.2.4.81', '1.2.840.10008.1.2.4.91', '1.2.840.10008.1.2.4.203'];
// PS3.18 Table 8.7.3-5: the media type of a frame in each compressed transfer syntax, as dicomweb-client asks for it.
const FRAME_MEDIA_TYPES = {
  '1.2.840.10008.1.2.5': 'image/x-dicom-rle',
  '1.2.840.10008.1.2.4.50': 'image/jpeg',
  '1.2.840.10008.1.2.4.51': 'image/jpeg',
  '1.2.840.10008.1.2.4.57': 'image/jpeg',
  '1.2.840.10008.1.2.4.70': 'image/jpeg',
  '1.2.840.10008.1.2.4.80': 'image/jls',
  '1.2.840.10008.1.2.4.81': 'image/jls',
  '1.2.840.10008.1.2.4.90': 'image/jp2',
  '1.2.840.10008.1.2.4.91': 'image/jp2',
};

function usage(message) {
  console.error(`error: ${message}`);
  console.error('usage: node conformance.mjs --url URL [--corpus DIR] [--header "Name: value"]... FILE_OR_NAME...');
  process.exit(2);
}

function parseArguments(argv) {
  const options = { url: null, corpus: process.env.HOUNSFIELD_CORPUS || null, headers: {}, files: [] };
  if (process.env.DICOMWEB_HEADERS) {
    try {
      Object.assign(options.headers, JSON.parse(process.env.DICOMWEB_HEADERS));
    } catch (error) {
      usage(`DICOMWEB_HEADERS is not a JSON object: ${error.message}`);
    }
  }

  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i];
    if (argument === '--url') {
      options.url = argv[++i];
    } else if (argument === '--corpus') {
      options.corpus = argv[++i];
    } else if (argument === '--header') {
      const header = argv[++i] ?? '';
      const colon = header.indexOf(':');
      if (colon < 1) {
        usage(`--header takes "Name: value", not "${header}"`);
      }
      options.headers[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
    } else if (argument.startsWith('--')) {
      usage(`unknown option ${argument}`);
    } else {
      options.files.push(argument);
    }
  }

  if (!options.url) usage('--url is required');
  if (!options.corpus) usage('--corpus (or HOUNSFIELD_CORPUS) is required');
  if (options.files.length === 0) usage('no files to upload');
  options.url = options.url.replace(/\/+$/, '');
  return options;
}

/** The first value of an element of a DICOM JSON data set as text; a public element the file encodes as UN comes as InlineBinary. */
function text(dataset, tag) {
  const element = dataset?.[tag];
  if (!element) return null;
  if (element.InlineBinary) {
    return Buffer.from(element.InlineBinary, 'base64').toString('latin1').split('\\')[0].replace(/[\s\0]+$/, '').trim() || null;
  }

  const value = element.Value?.[0];
  if (value === undefined || value === null) return null;
  return typeof value === 'object' ? value.Alphabetic ?? null : String(value);
}

/** The bytes of an ArrayBuffer (a multipart part from dicomweb-client) or of a typed array. */
const bytesOf = (part) => (part instanceof ArrayBuffer ? new Uint8Array(part) : new Uint8Array(part.buffer, part.byteOffset, part.byteLength));

const sha256 = (part) => createHash('sha256').update(bytesOf(part)).digest('hex');

function loadExpectations(corpus, files) {
  const manifest = JSON.parse(fs.readFileSync(path.join(corpus, 'MANIFEST.json'), 'utf8'));
  return files.map((argument) => {
    const relative = fs.existsSync(argument) ? path.relative(corpus, path.resolve(argument)) : `files/${argument}.dcm`;
    const entry = manifest.files.find((f) => f.file === relative);
    if (!entry) usage(`${argument} is not a file of the corpus at ${corpus}`);
    const oracleDirectory = path.join(corpus, entry.oracle_dir);
    const oracleFile = fs.existsSync(path.join(oracleDirectory, 'pydicom.json')) ? 'pydicom.json' : 'dcm2json.json';
    const oracle = JSON.parse(fs.readFileSync(path.join(oracleDirectory, oracleFile), 'utf8'));
    const bytes = fs.readFileSync(path.join(corpus, entry.file));
    const pixels = entry.pixels?.status === 'decoded' ? entry.pixels.default : null;
    return {
      name: path.basename(entry.file, '.dcm'),
      bytes,
      sha256: sha256(bytes),
      transferSyntax: entry.transfer_syntax_uid,
      study: text(oracle, '0020000D'),
      series: text(oracle, '0020000E'),
      sop: text(oracle, '00080018'),
      sopClass: text(oracle, '00080016'),
      modality: text(oracle, '00080060'),
      patientId: text(oracle, '00100020'),
      rows: entry.rows,
      columns: entry.columns,
      samples: entry.samples_per_pixel ?? 1,
      bitsAllocated: entry.bits_allocated,
      frames: entry.number_of_frames ?? 1,
      // DCMTK's decoded frames are the truth only where the stored form is lossless.
      frameHashes: pixels && LOSSLESS.includes(entry.transfer_syntax_uid) ? pixels.frame_sha256 : null,
      // The raw Pixel Data value, as stored, of a little-endian native file.
      pixelValueSha256: pixels && ['1.2.840.10008.1.2', EXPLICIT_LE].includes(entry.transfer_syntax_uid) ? pixels.value_sha256 : null,
    };
  });
}

const options = parseArguments(process.argv.slice(2));
const expected = loadExpectations(options.corpus, options.files);
const client = new dicomweb.api.DICOMwebClient({ url: options.url, headers: options.headers, verbose: false });

const results = [];
async function check(name, body) {
  try {
    await body();
    results.push({ name, ok: true });
    console.log(`PASS ${name}`);
  } catch (error) {
    const detail = error.status !== undefined
      ? `HTTP ${error.status} ${describeBody(error.response)}`
      : error.message;
    results.push({ name, ok: false, detail });
    console.log(`FAIL ${name}: ${detail}`);
  }
}

function describeBody(body) {
  if (body === null || body === undefined) return '';
  const value = body instanceof ArrayBuffer ? Buffer.from(body).toString('latin1') : typeof body === 'string' ? body : JSON.stringify(body);
  return value.slice(0, 400);
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

function assertSameSet(actual, wanted, what) {
  const a = [...new Set(actual)].sort();
  const w = [...new Set(wanted)].sort();
  assert(actual.length === a.length, `${what}: duplicates in ${JSON.stringify(actual)}`);
  assert(JSON.stringify(a) === JSON.stringify(w), `${what}: expected ${JSON.stringify(w)}, got ${JSON.stringify(a)}`);
}

const unique = (values) => [...new Set(values)];
const studies = unique(expected.map((e) => e.study));
const seriesOf = (study) => unique(expected.filter((e) => e.study === study).map((e) => e.series));
const instancesOf = (series) => expected.filter((e) => e.series === series);
const ids = (e) => ({ studyInstanceUID: e.study, seriesInstanceUID: e.series, sopInstanceUID: e.sop });
const frameLength = (e) => Math.ceil((e.rows * e.columns * e.samples * e.bitsAllocated) / 8);
// Frames of 1-bit data are packed end to end, so the value is the bits of all frames, padded to an even length.
const valueLength = (e) => Math.ceil((e.rows * e.columns * e.samples * e.bitsAllocated * e.frames) / 8);
const startsWith = (bytes, signature) => signature.every((b, i) => bytes[i] === b);

// The transfer syntax (0002,0010) of a Part 10 file: the meta group is always explicit VR little endian.
function metaTransferSyntax(bytes) {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert(view.toString('latin1', 128, 132) === 'DICM', 'the part is not a DICOM Part 10 file (no DICM prefix)');
  let offset = 132;
  while (offset + 8 <= view.length && view.readUInt16LE(offset) === 0x0002) {
    const element = view.readUInt16LE(offset + 2);
    const vr = view.toString('latin1', offset + 4, offset + 6);
    const long = ['OB', 'OW', 'OF', 'SQ', 'UT', 'UN'].includes(vr);
    const length = long ? view.readUInt32LE(offset + 8) : view.readUInt16LE(offset + 6);
    const start = offset + (long ? 12 : 8);
    if (element === 0x0010) return view.toString('latin1', start, start + length).replace(/[\0 ]+$/, '');
    offset = start + length;
  }

  throw new Error('the part has no Transfer Syntax UID in its meta information');
}

const clientVersion = createRequire(import.meta.url)('dicomweb-client/package.json').version;
console.log(`dicomweb-client ${clientVersion} against ${options.url}; ${expected.length} file(s): ${expected.map((e) => e.name).join(', ')}`);

// ---- STOW-RS
await check('STOW-RS stores every file and references each SOP instance', async () => {
  const datasets = expected.map((e) => e.bytes.buffer.slice(e.bytes.byteOffset, e.bytes.byteOffset + e.bytes.byteLength));
  const response = JSON.parse(await client.storeInstances({ datasets }));
  assert(!response['00081198'], `FailedSOPSequence present: ${JSON.stringify(response['00081198'])}`);
  const referenced = response['00081199']?.Value ?? [];
  assertSameSet(referenced.map((item) => text(item, '00081155')), expected.map((e) => e.sop), 'ReferencedSOPInstanceUIDs');
  for (const item of referenced) {
    const e = expected.find((x) => x.sop === text(item, '00081155'));
    assert(text(item, '00081150') === e.sopClass, `${e.name}: ReferencedSOPClassUID ${text(item, '00081150')}, expected ${e.sopClass}`);
    assert(text(item, '00081190')?.endsWith(`/studies/${e.study}/series/${e.series}/instances/${e.sop}`), `${e.name}: RetrieveURL ${text(item, '00081190')}`);
  }
});

await check('STOW-RS to another study refuses the instance with 409 and FailureReason A900', async () => {
  const e = expected[0];
  try {
    await client.storeInstances({ studyInstanceUID: '1.2.3.4.5.6.7.8.9', datasets: [e.bytes.buffer.slice(e.bytes.byteOffset, e.bytes.byteOffset + e.bytes.byteLength)] });
  } catch (error) {
    assert(error.status === 409, `expected 409, got ${error.status}`);
    const body = JSON.parse(error.response);
    assert(text(body['00081198'].Value[0], '00081197') === String(0xA900), `FailureReason ${text(body['00081198'].Value[0], '00081197')}`);
    return;
  }

  throw new Error('the store succeeded');
});

// ---- QIDO-RS, studies
const studyUids = (matches) => matches.map((m) => text(m, '0020000D'));

await check('QIDO-RS /studies lists every uploaded study', async () => {
  const found = studyUids(await client.searchForStudies());
  for (const study of studies) assert(found.includes(study), `study ${study} missing from ${found.length} result(s)`);
});

await check('QIDO-RS /studies?StudyInstanceUID=<list> matches exactly the uploaded studies, with their counts', async () => {
  const matches = await client.searchForStudies({ queryParams: { StudyInstanceUID: studies.join('\\') } });
  assertSameSet(studyUids(matches), studies, 'StudyInstanceUIDs');
  for (const match of matches) {
    const study = text(match, '0020000D');
    const instances = expected.filter((e) => e.study === study).length;
    assert(text(match, '00201208') === String(instances), `study ${study}: NumberOfStudyRelatedInstances ${text(match, '00201208')}, expected ${instances}`);
    assert(text(match, '00201206') === String(seriesOf(study).length), `study ${study}: NumberOfStudyRelatedSeries ${text(match, '00201206')}`);
  }
});

await check('QIDO-RS /studies?PatientID matches only that patient', async () => {
  const withPatient = expected.find((e) => e.patientId);
  assert(withPatient, 'no uploaded file has a PatientID');
  const matches = await client.searchForStudies({ queryParams: { PatientID: withPatient.patientId } });
  assert(matches.every((m) => text(m, '00100020') === withPatient.patientId), `a result has another PatientID: ${JSON.stringify(matches.map((m) => text(m, '00100020')))}`);
  const wanted = unique(expected.filter((e) => e.patientId === withPatient.patientId).map((e) => e.study));
  for (const study of wanted) assert(studyUids(matches).includes(study), `study ${study} of PatientID ${withPatient.patientId} missing`);
});

await check('QIDO-RS /studies?ModalitiesInStudy narrows the uploaded studies to those with the modality', async () => {
  const modality = expected[0].modality;
  const matches = await client.searchForStudies({ queryParams: { StudyInstanceUID: studies.join('\\'), ModalitiesInStudy: modality } });
  assertSameSet(studyUids(matches), unique(expected.filter((e) => e.modality === modality).map((e) => e.study)), `studies with ${modality}`);
});

await check('QIDO-RS /studies pages with limit and offset', async () => {
  const all = studyUids(await client.searchForStudies({ queryParams: { StudyInstanceUID: studies.join('\\') } }));
  const pages = [];
  for (let offset = 0; offset < all.length; offset++) {
    const page = await client.searchForStudies({ queryParams: { StudyInstanceUID: studies.join('\\'), limit: 1, offset } });
    assert(page.length === 1, `offset ${offset}: ${page.length} results with limit=1`);
    pages.push(...studyUids(page));
  }

  assertSameSet(pages, all, 'studies over all pages');
});

// ---- QIDO-RS, series
await check('QIDO-RS /studies/{study}/series matches exactly the series of each study', async () => {
  for (const study of studies) {
    const matches = await client.searchForSeries({ studyInstanceUID: study });
    assertSameSet(matches.map((m) => text(m, '0020000E')), seriesOf(study), `series of ${study}`);
    for (const match of matches) {
      const series = text(match, '0020000E');
      assert(text(match, '00080060') === instancesOf(series)[0].modality, `series ${series}: Modality ${text(match, '00080060')}`);
      assert(text(match, '00201209') === String(instancesOf(series).length), `series ${series}: NumberOfSeriesRelatedInstances ${text(match, '00201209')}`);
    }
  }
});

await check('QIDO-RS /series?Modality returns only that modality, including the uploaded series', async () => {
  for (const modality of unique(expected.map((e) => e.modality).filter(Boolean))) {
    const matches = await client.searchForSeries({ queryParams: { Modality: modality, limit: 1000 } });
    assert(matches.every((m) => text(m, '00080060') === modality), `${modality}: a result has Modality ${matches.map((m) => text(m, '00080060'))}`);
    for (const e of expected.filter((x) => x.modality === modality)) {
      assert(matches.some((m) => text(m, '0020000E') === e.series), `${modality}: series ${e.series} missing`);
    }
  }
});

await check('QIDO-RS /series?SeriesInstanceUID finds each series with its study', async () => {
  for (const e of expected) {
    const matches = await client.searchForSeries({ queryParams: { SeriesInstanceUID: e.series } });
    assert(matches.length === 1, `${e.series}: ${matches.length} results`);
    assert(text(matches[0], '0020000D') === e.study, `${e.series}: StudyInstanceUID ${text(matches[0], '0020000D')}`);
  }
});

// ---- QIDO-RS, instances
await check('QIDO-RS /studies/{study}/series/{series}/instances matches exactly, with Rows, Columns and NumberOfFrames', async () => {
  for (const series of unique(expected.map((e) => e.series))) {
    const e0 = instancesOf(series)[0];
    const matches = await client.searchForInstances({ studyInstanceUID: e0.study, seriesInstanceUID: series });
    assertSameSet(matches.map((m) => text(m, '00080018')), instancesOf(series).map((e) => e.sop), `instances of ${series}`);
    for (const match of matches) {
      const e = expected.find((x) => x.sop === text(match, '00080018'));
      assert(text(match, '00080016') === e.sopClass, `${e.name}: SOPClassUID ${text(match, '00080016')}`);
      assert(text(match, '00280010') === String(e.rows), `${e.name}: Rows ${text(match, '00280010')}, expected ${e.rows}`);
      assert(text(match, '00280011') === String(e.columns), `${e.name}: Columns ${text(match, '00280011')}, expected ${e.columns}`);
      if (e.frames > 1) assert(text(match, '00280008') === String(e.frames), `${e.name}: NumberOfFrames ${text(match, '00280008')}, expected ${e.frames}`);
    }
  }
});

await check('QIDO-RS /studies/{study}/instances matches exactly the instances of each study', async () => {
  for (const study of studies) {
    const matches = await client.searchForInstances({ studyInstanceUID: study });
    assertSameSet(matches.map((m) => text(m, '00080018')), expected.filter((e) => e.study === study).map((e) => e.sop), `instances of ${study}`);
  }
});

await check('QIDO-RS /instances?SOPInstanceUID finds each instance with its study and series', async () => {
  for (const e of expected) {
    const matches = await client.searchForInstances({ queryParams: { SOPInstanceUID: e.sop } });
    assert(matches.length === 1, `${e.name}: ${matches.length} results`);
    assert(text(matches[0], '0020000D') === e.study && text(matches[0], '0020000E') === e.series, `${e.name}: study/series ${text(matches[0], '0020000D')}/${text(matches[0], '0020000E')}`);
  }
});

await check('QIDO-RS /instances?SOPClassUID returns only that SOP class, including the uploaded instances', async () => {
  for (const sopClass of unique(expected.map((e) => e.sopClass))) {
    const matches = await client.searchForInstances({ queryParams: { SOPClassUID: sopClass, limit: 1000 } });
    assert(matches.every((m) => text(m, '00080016') === sopClass), `${sopClass}: a result of another class`);
    for (const e of expected.filter((x) => x.sopClass === sopClass)) assert(matches.some((m) => text(m, '00080018') === e.sop), `${e.name} missing`);
  }
});

// ---- WADO-RS, instances
// dicomweb-client 0.11.3 refuses every mediaTypes option of retrieveInstance/Series/Study (its common media type is
// "application/", never equal to "application/dicom"), so a transfer syntax is asked for through the request builder
// those methods call without one.
const asStored = [{ mediaType: 'application/dicom', transferSyntaxUID: '*' }];
const retrieveAsStored = async (url) => client._httpGetMultipartApplicationDicom(url, asStored);
const instanceUrl = (e) => `${options.url}/studies/${e.study}/series/${e.series}/instances/${e.sop}`;

await check('WADO-RS instance with transfer-syntax=* is byte-identical to the uploaded file', async () => {
  for (const e of expected) {
    const [part] = await retrieveAsStored(instanceUrl(e));
    assert(part.contentType === 'application/dicom', `${e.name}: part Content-Type ${part.contentType}`);
    assert(sha256(part) === e.sha256, `${e.name}: SHA-256 ${sha256(part)} of ${part.byteLength} bytes, expected ${e.sha256} of ${e.bytes.length}`);
  }
});

await check('WADO-RS instance without a transfer syntax comes in Explicit VR Little Endian unless stored lossy (PS3.18 8.7.3.4)', async () => {
  for (const e of expected) {
    const part = await client.retrieveInstance(ids(e));
    const wanted = LOSSY.includes(e.transferSyntax) ? e.transferSyntax : EXPLICIT_LE;
    const actual = metaTransferSyntax(bytesOf(part));
    assert(actual === wanted, `${e.name}: transfer syntax ${actual}, expected ${wanted}`);
    assert(part.transferSyntaxUID === actual, `${e.name}: the part header says transfer-syntax=${part.transferSyntaxUID}, the file ${actual}`);
    if (e.transferSyntax === EXPLICIT_LE) assert(sha256(part) === e.sha256, `${e.name}: stored as Explicit VR Little Endian but not returned byte-identical`);
  }
});

await check('WADO-RS series and study retrieve every instance of them, byte-identical', async () => {
  for (const study of studies) {
    const parts = await client.retrieveStudy({ studyInstanceUID: study });
    assert(parts.length === expected.filter((e) => e.study === study).length, `study ${study}: ${parts.length} parts by default`);
  }

  for (const study of studies) {
    const wanted = expected.filter((e) => e.study === study).map((e) => e.sha256);
    const parts = await retrieveAsStored(`${options.url}/studies/${study}`);
    assertSameSet(parts.map(sha256), wanted, `study ${study}`);
    for (const series of seriesOf(study)) {
      const seriesParts = await retrieveAsStored(`${options.url}/studies/${study}/series/${series}`);
      assertSameSet(seriesParts.map(sha256), instancesOf(series).map((e) => e.sha256), `series ${series}`);
    }
  }
});

// ---- WADO-RS, metadata
function checkMetadata(item, e) {
  assert(text(item, '00080018') === e.sop, `SOPInstanceUID ${text(item, '00080018')}, expected ${e.sop}`);
  assert(text(item, '0020000D') === e.study && text(item, '0020000E') === e.series, `${e.name}: study/series UIDs differ`);
  assert(text(item, '00280010') === String(e.rows), `${e.name}: Rows ${text(item, '00280010')}, expected ${e.rows}`);
  assert(text(item, '00280011') === String(e.columns), `${e.name}: Columns ${text(item, '00280011')}, expected ${e.columns}`);
  assert(text(item, '00280002') === String(e.samples), `${e.name}: SamplesPerPixel ${text(item, '00280002')}, expected ${e.samples}`);
  if (e.frames > 1) assert(text(item, '00280008') === String(e.frames), `${e.name}: NumberOfFrames ${text(item, '00280008')}, expected ${e.frames}`);
  const pixelData = item['7FE00010'];
  assert(pixelData && (typeof pixelData.BulkDataURI === 'string' || typeof pixelData.InlineBinary === 'string'), `${e.name}: PixelData has neither BulkDataURI nor InlineBinary`);
  const encapsulated = !NATIVE.includes(e.transferSyntax) && e.transferSyntax !== '1.2.840.10008.1.2.1.99';
  if (encapsulated) assert(pixelData.vr === 'OB', `${e.name}: encapsulated PixelData has VR ${pixelData.vr}, expected OB (PS3.5 A.4)`);
}

await check('WADO-RS study, series and instance metadata carry the oracle SOPInstanceUID, Rows, Columns and frames', async () => {
  for (const study of studies) {
    const items = await client.retrieveStudyMetadata({ studyInstanceUID: study });
    assertSameSet(items.map((i) => text(i, '00080018')), expected.filter((e) => e.study === study).map((e) => e.sop), `metadata of study ${study}`);
    for (const series of seriesOf(study)) {
      const seriesItems = await client.retrieveSeriesMetadata({ studyInstanceUID: study, seriesInstanceUID: series });
      assertSameSet(seriesItems.map((i) => text(i, '00080018')), instancesOf(series).map((e) => e.sop), `metadata of series ${series}`);
      for (const item of seriesItems) checkMetadata(item, expected.find((e) => e.sop === text(item, '00080018')));
    }
  }

  for (const e of expected) {
    const items = await client.retrieveInstanceMetadata(ids(e));
    assert(items.length === 1, `${e.name}: ${items.length} metadata items`);
    checkMetadata(items[0], e);
  }
});

// ---- WADO-RS, frames
await check('WADO-RS frames decode to rows×columns×samples×bytes each, equal to the oracle pixels', async () => {
  for (const e of expected) {
    const numbers = Array.from({ length: e.frames }, (_, i) => i + 1);
    const parts = await client.retrieveInstanceFrames({ ...ids(e), frameNumbers: numbers });
    assert(parts.length === e.frames, `${e.name}: ${parts.length} frames, expected ${e.frames}`);
    parts.forEach((part, i) => {
      assert(part.byteLength === frameLength(e), `${e.name} frame ${i + 1}: ${part.byteLength} bytes, expected ${frameLength(e)}`);
      if (e.frameHashes) assert(sha256(part) === e.frameHashes[i], `${e.name} frame ${i + 1}: SHA-256 differs from DCMTK's decoded frame`);
    });
    assert(parts[0].contentType === 'application/octet-stream', `${e.name}: frames came as ${parts[0].contentType}`);
  }
});

await check('WADO-RS frames of a compressed instance come as stored when its media type and transfer syntax are asked for', async () => {
  const compressed = expected.filter((e) => FRAME_MEDIA_TYPES[e.transferSyntax]);
  assert(compressed.length > 0, 'no compressed file among the uploads');
  for (const e of compressed) {
    const mediaType = FRAME_MEDIA_TYPES[e.transferSyntax];
    const parts = await client.retrieveInstanceFrames({ ...ids(e), frameNumbers: [1], mediaTypes: [{ mediaType, transferSyntaxUID: e.transferSyntax }] });
    assert(parts.length === 1, `${e.name}: ${parts.length} parts`);
    assert(parts[0].contentType === mediaType, `${e.name}: Content-Type ${parts[0].contentType}, expected ${mediaType}`);
    assert(parts[0].transferSyntaxUID === e.transferSyntax, `${e.name}: transfer-syntax ${parts[0].transferSyntaxUID}, expected ${e.transferSyntax}`);
    const bytes = bytesOf(parts[0]);
    const signature = mediaType === 'image/jp2' ? [0xFF, 0x4F, 0xFF, 0x51] : mediaType === 'image/x-dicom-rle' ? null : [0xFF, 0xD8];
    if (signature) assert(startsWith(bytes, signature) || (mediaType === 'image/jp2' && startsWith(bytes, [0, 0, 0, 0x0C, 0x6A, 0x50])), `${e.name}: the frame does not start with the ${mediaType} signature`);
    assert(bytes.length < frameLength(e) * 2, `${e.name}: ${bytes.length} bytes does not look compressed`);
  }
});

// ---- WADO-RS, rendered and thumbnails
const PNG = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
const JPEG = [0xFF, 0xD8, 0xFF];

await check('WADO-RS rendered instance as image/jpeg and image/png, PNG at the image size', async () => {
  for (const e of expected) {
    const [jpeg] = await client.retrieveInstanceRendered({ ...ids(e), mediaTypes: [{ mediaType: 'image/jpeg' }] });
    const jpegBytes = bytesOf(jpeg);
    assert(startsWith(jpegBytes, JPEG) && jpegBytes.at(-2) === 0xFF && jpegBytes.at(-1) === 0xD9, `${e.name}: not a complete JPEG`);
    const [png] = await client.retrieveInstanceRendered({ ...ids(e), mediaTypes: [{ mediaType: 'image/png' }] });
    const pngBytes = Buffer.from(bytesOf(png));
    assert(startsWith(pngBytes, PNG), `${e.name}: no PNG signature`);
    assert(pngBytes.readUInt32BE(16) === e.columns && pngBytes.readUInt32BE(20) === e.rows, `${e.name}: PNG is ${pngBytes.readUInt32BE(16)}×${pngBytes.readUInt32BE(20)}, expected ${e.columns}×${e.rows}`);
  }
});

await check('WADO-RS rendered with viewport and window parameters, and without an Accept header', async () => {
  const e = expected[0];
  const [png] = await client.retrieveInstanceRendered({ ...ids(e), mediaTypes: [{ mediaType: 'image/png' }], queryParams: { viewport: '32,32', window: '40,400' } });
  const bytes = Buffer.from(bytesOf(png));
  assert(startsWith(bytes, PNG), 'no PNG signature');
  assert(Math.max(bytes.readUInt32BE(16), bytes.readUInt32BE(20)) === 32, `viewport 32,32 gave ${bytes.readUInt32BE(16)}×${bytes.readUInt32BE(20)}`);
  const [plain] = await client.retrieveInstanceRendered(ids(e));
  const plainBytes = bytesOf(plain);
  assert(startsWith(plainBytes, JPEG) || startsWith(plainBytes, PNG), 'the default rendering is neither JPEG nor PNG');
});

await check('WADO-RS rendered frame of a multi-frame instance, and thumbnails', async () => {
  const multiFrame = expected.find((e) => e.frames > 1);
  assert(multiFrame, 'no multi-frame file among the uploads');
  const [frame] = await client.retrieveInstanceFramesRendered({ ...ids(multiFrame), frameNumbers: [multiFrame.frames], mediaTypes: [{ mediaType: 'image/png' }] });
  assert(startsWith(bytesOf(frame), PNG), `${multiFrame.name}: frame ${multiFrame.frames} rendered is not a PNG`);
  for (const e of expected) {
    const [thumbnail] = await client.retrieveInstanceThumbnail({ ...ids(e), mediaTypes: [{ mediaType: 'image/jpeg' }] });
    assert(startsWith(bytesOf(thumbnail), JPEG), `${e.name}: the thumbnail is not a JPEG`);
  }
});

// ---- WADO-RS, bulk data
await check('WADO-RS bulk data from the metadata BulkDataURI is the Pixel Data value, whole and by byte range', async () => {
  for (const e of expected) {
    const [item] = await client.retrieveInstanceMetadata(ids(e));
    const uri = item['7FE00010']?.BulkDataURI;
    if (!uri) continue; // small enough to be inline
    const [whole] = await client.retrieveBulkData({ BulkDataURI: uri });
    const bytes = bytesOf(whole);
    if (NATIVE.includes(e.transferSyntax)) {
      assert(bytes.length === valueLength(e) + (valueLength(e) % 2), `${e.name}: ${bytes.length} bytes, expected ${valueLength(e)} (padded to even)`);
    } else {
      assert(bytes.length > 0, `${e.name}: empty bulk data`);
    }

    if (e.pixelValueSha256) assert(sha256(bytes) === e.pixelValueSha256, `${e.name}: SHA-256 of the Pixel Data differs from the oracle's`);
    const [range] = await client.retrieveBulkData({ BulkDataURI: uri, byteRange: [10, 109] });
    const rangeBytes = bytesOf(range);
    assert(rangeBytes.length === 100, `${e.name}: byte range 10-109 gave ${rangeBytes.length} bytes`);
    assert(Buffer.compare(Buffer.from(rangeBytes), Buffer.from(bytes.subarray(10, 110))) === 0, `${e.name}: byte range 10-109 differs from the whole value`);
  }
});

const failed = results.filter((r) => !r.ok);
console.log(`\n${results.length - failed.length} passed, ${failed.length} failed`);
for (const failure of failed) console.log(`  FAIL ${failure.name}: ${failure.detail}`);
process.exit(failed.length === 0 ? 0 : 1);
