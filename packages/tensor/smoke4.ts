import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
process.env.EGL_PLATFORM ??= 'surfaceless'; process.env.XDG_RUNTIME_DIR ??= '/tmp';
if (process.argv[2] === 'hw') { const hw = await create([]).requestAdapter(); console.log('hw', hw); }
const gpu = create(['backend=opengles']); (globalThis as any).keep = gpu;
const adapter = await gpu.requestAdapter({ featureLevel: 'compatibility' });
const device = await adapter!.requestDevice();
const code = `@group(0) @binding(0) var<storage, read_write> Y: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) { Y[g.x] = Y[g.x] + 1.0; }`;
const pipe = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
const buf = device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
for (let it = 0; it < 200; it++) {
  const enc = device.createCommandEncoder();
  const p = enc.beginComputePass(); p.setPipeline(pipe);
  p.setBindGroup(0, device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: buf } }] }));
  p.dispatchWorkgroups(1); p.end();
  const st = device.createBuffer({ size: 256, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  enc.copyBufferToBuffer(buf, 0, st, 0, 256);
  device.queue.submit([enc.finish()]);
  await st.mapAsync(GPUMapMode.READ);
  const v = new Float32Array(st.getMappedRange().slice(0))[0];
  st.unmap(); st.destroy();
  if (it % 50 === 0) console.log(it, v);
}
device.destroy();
console.log('done');
