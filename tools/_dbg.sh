export PYTHONPATH=$PWD
cmake --build build-gpu > /dev/null 2>&1 || tools/gpu_check.sh $OUT/gpu --no-bench > /dev/null 2>&1
cat > /tmp/c.py <<'PY'
import sys, numpy as np
sys.path.insert(0, "tests")
import pycolorize, test_custom_layers as t
mode = sys.argv[1]
if mode != "none":
    pycolorize.set_mode_gpu()
    if mode == "forward":
        net = pycolorize.Net.from_string('layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }\nlayer { name: "p" type: "Power" bottom: "x" top: "y" }')
        print(net.forward(x=np.ones((2,3),np.float32))["y"].sum())
    pycolorize.set_mode_cpu()
print("throwing", flush=True)
try:
    t.hc_net([(1, 2, 4, 4), (1, 2, 4, 4), (1, 3, 2, 2)], 3, [1, 2], offsets=[0, 0])
except Exception as e:
    print("caught", str(e)[:60])
PY
for m in none mode forward; do python3 -X faulthandler /tmp/c.py $m 2>&1 | head -5; echo "rc=$?"; done
cuda-gdb -batch -ex run -ex bt --args python3 /tmp/c.py forward 2>&1 | grep -E "^#|signal|SIG" | head -30
