// A training loop that logs to modelreg from Node (MLDB's per-epoch loop, ModelDB's datasets),
// then registers the best run's checkpoint as a version and tags it.
//   node examples/train.mjs            (the local store, or whatever MODELREG_* / profiles say)
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {openRegistry, RegistryError} from 'modelreg'

let registry
try {
  registry = await openRegistry({project: process.env.EXAMPLE_PROJECT ?? 'mnist'})
  for (const lr of [0.1, 0.01]) {
    const run = await registry.startRun('mnist-cnn', {name: `lr-${lr}`, params: {lr, epochs: 3}})
    await run.dataset('train', 's3://mnist/train', {metadata: {rows: 60000}})
    for (let epoch = 0; epoch < 3; epoch++) {
      const train = 1 / (epoch + 1) / (lr * 100) // stand-ins for real training and validation
      await run.log({loss: train}, {step: epoch, split: 'train'})
      await run.log({loss: train * 1.2, accuracy: 1 - train / 2}, {step: epoch, split: 'valid'})
    }
    const dir = mkdtempSync(join(tmpdir(), 'ckpt-'))
    try {
      writeFileSync(join(dir, 'model.pt'), `weights for lr=${lr}`)
      await run.checkpoint([dir], {step: 2})
    } finally {
      rmSync(dir, {recursive: true, force: true}) // the store has its own copy now
    }
    await run.finish()
  }
  // Which run was best? The lowest final validation loss.
  const {items} = await registry.backend.listRuns(registry.project, {experiment: 'mnist-cnn', sort_by: 'metrics.loss[valid]', order_by: 'asc', limit: 1})
  const best = await registry.run(items[0].id).get()
  const {version} = await registry.register('mnist-cnn', best.checkpoints.at(-1).uuid, {comment: `best run ${best.name}`, tags: ['champion']})
  console.log(JSON.stringify({best: best.id, name: best.name, model: version.model, version: version.version, tags: version.tags}))
} catch (error) {
  // The registry's errors are one clear line each (and an exit code); anything else is a bug.
  if (!(error instanceof RegistryError)) throw error
  console.error(`error: ${error.message}`)
  process.exitCode = error.exitCode
} finally {
  await registry?.close()
}
