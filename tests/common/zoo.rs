//! The committed PyTorch outputs of every example (`examples/zoo/expected/EXAMPLE.safetensors`,
//! written by `examples/zoo/reference.py fixtures`) and the small input each was computed
//! at, with the generator of the weights and inputs they were computed from.

#[path = "../../examples/zoo/generate.rs"]
pub mod generate;

/// The seed of the committed outputs' weights and inputs (`reference.py`'s `SEED`).
pub const SEED: u64 = 1;

/// Every example with the input height and width of its committed outputs
/// (`models.EXAMPLES` in `examples/zoo/models.py`).
pub const CASES: &[(&str, usize, usize)] = &[
    ("resnet18", 64, 64),
    ("resnet18s", 64, 64),
    ("resnet20", 32, 32),
    ("resnet20s", 32, 32),
    ("mobilenetv2", 64, 64),
    ("mobilenetv2s", 64, 64),
    ("resnet34", 64, 64),
    ("resnet34s", 64, 64),
    ("resnet50", 64, 64),
    ("resnet50s", 64, 64),
    ("resnet18s_a", 64, 64),
    ("resnet56", 32, 32),
    ("resnet56s", 32, 32),
    ("efficientnet_b0", 64, 64),
    ("efficientnet_b0s", 64, 64),
    ("hrnet_w18_small", 64, 64),
    ("hrnet_w18_small_s", 64, 64),
    ("hrnet_w18_small_seg", 32, 64),
    ("hrnet_w18_small_seg_s", 32, 64),
    ("hrnet_w18_small_v2_seg", 32, 64),
    ("hrnet_w18_small_v2_seg_s", 32, 64),
];

/// The committed input size of an example (`None` for a model without committed outputs).
pub fn small_size(example: &str) -> Option<(usize, usize)> {
    CASES
        .iter()
        .find(|(name, _, _)| *name == example)
        .map(|&(_, h, w)| (h, w))
}
