"""The ONNX files libdigitcnn writes and reads, checked by other software.

  check_onnx.py FIXTURE WORKDIR MNIST_M_DIR MODE

FIXTURE is tests/onnx/onnx_fixture.c's program. MODE:
  checker  every zoo model, trained briefly, exports; onnx.checker.check_model(full_check=True)
           and strict shape inference accept it and infer the (N, 10) output (python3-onnx)
  opencv   OpenCV's DNN module (python3-opencv) gives libdigitcnn's outputs to 1e-4 on 8 MNIST-M
           test images, for every zoo model (exported at opset 10, the form OpenCV 4.6 reads)
  torch    the paper CNN built in torch.nn (python3-torch) and exported by torch.onnx.export
           imports, gives PyTorch's outputs to 1e-4, and fine-tunes (training steps lower the loss)
  ort      ONNX Runtime (npm package onnxruntime-node, run by tests/onnx/ort_check.js with node) gives
           libdigitcnn's outputs to 1e-4 on the same images, for every zoo model at opset 13; the
           package is looked up in $NODE_PATH (scripts/test.sh installs it into build/npm)
A missing runtime skips (exit 77, which CTest reports as skipped) with a message.
Run with /usr/bin/python3 (Debian's, where these packages live)."""
import os, subprocess, sys

import numpy as np

fixture, work, mnist_m, mode = sys.argv[1:5]
SKIP = 77
MODELS = ["paper", "lenet5", "resnet50", "mobilenetv2", "vgg16", "vgg16_bn"]
work = os.path.join(work, mode)  # each mode its own files, written afresh: never a stale export
os.makedirs(work, exist_ok=True)


def need(module, package):
    try:
        return __import__(module)
    except ImportError:
        print(f"SKIP: {package} is not installed (apt-get install {package})")
        sys.exit(SKIP)


def zoo_files():
    if not os.path.isdir(os.path.join(mnist_m, "mnist_m_test")):
        print(f"SKIP: no MNIST-M test images in {mnist_m}")
        sys.exit(SKIP)
    subprocess.run([fixture, "zoo", work, mnist_m], check=True)
    x = np.fromfile(os.path.join(work, "input.bin"), dtype=np.float32).reshape(8, 3, 32, 32)
    return x


def checker():
    onnx = need("onnx", "python3-onnx")
    zoo_files()
    for name in [m + suffix for m in MODELS for suffix in ("", ".opset10")]:
        model = onnx.load(os.path.join(work, name + ".onnx"))
        onnx.checker.check_model(model, full_check=True)
        inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
        out = inferred.graph.output[0].type.tensor_type.shape.dim
        assert [d.dim_param or d.dim_value for d in out] == ["N", 10], (name, out)
        assert onnx.defs.onnx_opset_version() >= model.opset_import[0].version
        # Every intermediate value got a shape: the graph is fully typed.
        assert len(inferred.graph.value_info) >= len(model.graph.node) - 1, name
        meta = {p.key: p.value for p in model.metadata_props}
        assert meta.get("classes") == "0,1,2,3,4,5,6,7,8,9", (name, meta)
        assert model.opset_import[0].version <= 17 and model.ir_version <= 8
        print(f"{name}: checker and shape inference pass ({len(model.graph.node)} nodes)")


def opencv():
    cv2 = need("cv2", "python3-opencv")
    x = zoo_files()
    for name in MODELS:
        # Opset 10: OpenCV 4.6 reads Clip (MobileNetV2's ReLU6) only with attribute bounds.
        net = cv2.dnn.readNetFromONNX(os.path.join(work, name + ".opset10.onnx"))
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        net.setInput(x)
        theirs = net.forward().reshape(8, 10)
        ours = np.fromfile(os.path.join(work, name + ".out.bin"), dtype=np.float32).reshape(8, 10)
        diff = float(np.abs(theirs - ours).max())
        print(f"{name}: OpenCV {cv2.__version__} vs libdigitcnn: max |difference| {diff:.3g}")
        assert diff <= 1e-4, name


def torch_paper():
    torch = need("torch", "python3-torch")
    need("onnx", "python3-onnx")  # torch.onnx.export needs it
    nn = torch.nn
    torch.manual_seed(5)

    def block(i, o):
        return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o, eps=1e-3, momentum=0.01), nn.ReLU()]

    def paper():  # the paper CNN as ../shared/peers/torch_paper.py builds it, for 3-channel 32 x 32 images
        return nn.Sequential(*block(3, 32), *block(32, 32), nn.MaxPool2d(2), nn.Dropout(0.25),
                             *block(32, 64), *block(64, 64), nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
                             nn.Linear(8 * 8 * 64, 256, bias=False), nn.BatchNorm1d(256, eps=1e-3, momentum=0.01),
                             nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10))

    model = paper()
    # Running statistics that are not 0 and 1, so that batch norm is tested for real.
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    model.eval()
    if os.path.isdir(os.path.join(mnist_m, "mnist_m_test")):
        x = zoo_files()
    else:  # PyTorch's outputs on random images are as good a comparison
        x = np.random.default_rng(1).random((8, 3, 32, 32), dtype=np.float32)
    path = os.path.join(work, "torch_paper.onnx")
    torch.onnx.export(model, torch.from_numpy(x), path, opset_version=13, input_names=["input"],
                      output_names=["output"], dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    with torch.no_grad():
        theirs = model(torch.from_numpy(x)).numpy()
    x.tofile(os.path.join(work, "torch_input.bin"))
    out = os.path.join(work, "torch_paper.out.bin")
    subprocess.run([fixture, "predict", path, os.path.join(work, "torch_input.bin"), "8", out], check=True)
    ours = np.fromfile(out, dtype=np.float32).reshape(8, 10)
    diff = float(np.abs(theirs - ours).max())
    print(f"paper CNN exported by torch {torch.__version__}: max |difference| {diff:.3g}")
    assert diff <= 1e-4
    # Untrained, its batch norms share their zero means and unit variances: torch writes each once and
    # an Identity node for every further use, which the import takes as the constant it copies.
    import onnx
    model = paper().eval()
    with torch.no_grad():
        theirs = model(torch.from_numpy(x)).numpy()
    path = os.path.join(work, "torch_paper_untrained.onnx")
    torch.onnx.export(model, torch.from_numpy(x), path, opset_version=13, input_names=["input"],
                      output_names=["output"], dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    identities = sum(node.op_type == "Identity" for node in onnx.load(path).graph.node)
    subprocess.run([fixture, "predict", path, os.path.join(work, "torch_input.bin"), "8", out], check=True)
    diff = float(np.abs(theirs - np.fromfile(out, dtype=np.float32).reshape(8, 10)).max())
    print(f"untrained paper CNN exported by torch ({identities} Identity nodes of constants): max |difference| "
          f"{diff:.3g}")
    assert diff <= 1e-4
    # The other operators torch writes for layers this library has (ReLU6 as Clip, AvgPool2d with a Pad by
    # nothing, depthwise Conv, LeakyReLU, Tanh, Softmax), at the opsets torch 1.13 offers around the default.
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU6(), nn.AvgPool2d(2),
                          nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.LeakyReLU(0.2), nn.MaxPool2d(2, 2), nn.Flatten(),
                          nn.Linear(8 * 8 * 8, 16), nn.Tanh(), nn.Linear(16, 5), nn.Softmax(dim=1)).eval()
    with torch.no_grad():
        theirs = model(torch.from_numpy(x)).numpy()
    for opset in (11, 13, 17):
        path = os.path.join(work, f"torch_layers_{opset}.onnx")
        torch.onnx.export(model, torch.from_numpy(x), path, opset_version=opset, input_names=["input"],
                          output_names=["output"], dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
        subprocess.run([fixture, "predict", path, os.path.join(work, "torch_input.bin"), "8", out], check=True)
        diff = float(np.abs(theirs - np.fromfile(out, dtype=np.float32).reshape(8, 5)).max())
        print(f"layer mix exported by torch at opset {opset}: max |difference| {diff:.3g}")
        assert diff <= 1e-4
    # PyTorch's padding = kernel // 2 at stride 2 on even sizes (ResNet's stem and strided 3x3): 'same_lower',
    # the row padded after the input that no window reaches left out.
    model = nn.Sequential(nn.Conv2d(3, 8, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.MaxPool2d(3, stride=2, padding=1), nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU(),
                          nn.Flatten(), nn.Linear(8 * 4 * 4, 5), nn.Softmax(dim=1)).eval()
    with torch.no_grad():
        theirs = model(torch.from_numpy(x)).numpy()
    path = os.path.join(work, "torch_strided.onnx")
    torch.onnx.export(model, torch.from_numpy(x), path, opset_version=13, input_names=["input"],
                      output_names=["output"], dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    subprocess.run([fixture, "predict", path, os.path.join(work, "torch_input.bin"), "8", out], check=True)
    diff = float(np.abs(theirs - np.fromfile(out, dtype=np.float32).reshape(8, 5)).max())
    print(f"strided convolutions and pooling padded as torch: max |difference| {diff:.3g}")
    assert diff <= 1e-4


def onnx_runtime():
    import shutil
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        print("SKIP: node is not installed (apt-get install nodejs)")
        sys.exit(SKIP)
    found = subprocess.run([node, "-e", "require('onnxruntime-node')"], capture_output=True)
    if found.returncode:
        print("SKIP: the npm package onnxruntime-node is not installed where NODE_PATH points "
              f"({os.environ.get('NODE_PATH', '')}; bash scripts/test.sh installs it)")
        sys.exit(SKIP)
    zoo_files()
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ort_check.js")
    subprocess.run([node, script, work] + MODELS, check=True)


{"checker": checker, "opencv": opencv, "torch": torch_paper, "ort": onnx_runtime}[mode]()
