//! A deterministic actor as an ONNX model (opset 13): `observation [batch × obs_dim]` →
//! Gemm/Relu … Gemm → Tanh → Mul(scale) → Add(bias) → `action [batch × act_dim]`, in the env's
//! units. The messages are the few of `onnx.proto` this graph needs, with its field numbers,
//! encoded by prost.

use crate::rl::policy::DeterministicActor;
use prost::Message;

/// ONNX's IR version of opset 13 (ONNX 1.8).
pub const IR_VERSION: i64 = 7;
/// The ONNX operator set the graph uses.
pub const OPSET: i64 = 13;
/// `TensorProto.DataType.FLOAT`.
const FLOAT: i32 = 1;
/// The graph's input and output names.
pub const INPUT: &str = "observation";
/// The graph's output name.
pub const OUTPUT: &str = "action";

/// onnx.proto's `ModelProto`.
#[allow(missing_docs)] // onnx.proto's fields, by number: documented there
#[derive(Clone, PartialEq, Message)]
pub struct ModelProto {
    #[prost(int64, tag = "1")]
    pub ir_version: i64,
    #[prost(string, tag = "2")]
    pub producer_name: String,
    #[prost(string, tag = "3")]
    pub producer_version: String,
    #[prost(string, tag = "6")]
    pub doc_string: String,
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetIdProto>,
    #[prost(message, repeated, tag = "14")]
    pub metadata_props: Vec<StringStringEntryProto>,
}

/// onnx.proto's `OperatorSetIdProto`.
#[allow(missing_docs)] // onnx.proto's fields, by number: documented there
#[derive(Clone, PartialEq, Message)]
pub struct OperatorSetIdProto {
    #[prost(string, tag = "1")]
    pub domain: String,
    #[prost(int64, tag = "2")]
    pub version: i64,
}

/// onnx.proto's `StringStringEntryProto`.
#[allow(missing_docs)] // onnx.proto's fields, by number: documented there
#[derive(Clone, PartialEq, Message)]
pub struct StringStringEntryProto {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// onnx.proto's `GraphProto`.
#[allow(missing_docs)] // onnx.proto's fields, by number: documented there
#[derive(Clone, PartialEq, Message)]
pub struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
}

/// onnx.proto's `NodeProto`.
#[allow(missing_docs)] // onnx.proto's fields, by number: documented there
#[derive(Clone, PartialEq, Message)]
pub struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    #[prost(string, tag = "3")]
    pub name: String,
    #[prost(string, tag = "4")]
    pub op_type: String,
}

/// onnx.proto's `TensorProto`.
#[allow(missing_docs)] // onnx.proto's fields, by number: documented there
#[derive(Clone, PartialEq, Message)]
pub struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    pub dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    #[prost(float, repeated, tag = "4")]
    pub float_data: Vec<f32>,
    #[prost(string, tag = "8")]
    pub name: String,
}

/// onnx.proto's `ValueInfoProto`.
#[allow(missing_docs)] // onnx.proto's fields, by number: documented there
#[derive(Clone, PartialEq, Message)]
pub struct ValueInfoProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
    #[prost(string, tag = "3")]
    pub doc_string: String,
}

/// onnx.proto's `TypeProto`.
#[allow(missing_docs)] // onnx.proto's fields, by number: documented there
#[derive(Clone, PartialEq, Message)]
pub struct TypeProto {
    #[prost(message, optional, tag = "1")]
    pub tensor_type: Option<TensorTypeProto>,
}

/// onnx.proto's `TensorTypeProto`.
#[allow(missing_docs)] // onnx.proto's fields, by number: documented there
#[derive(Clone, PartialEq, Message)]
pub struct TensorTypeProto {
    #[prost(int32, tag = "1")]
    pub elem_type: i32,
    #[prost(message, optional, tag = "2")]
    pub shape: Option<TensorShapeProto>,
}

/// onnx.proto's `TensorShapeProto`.
#[allow(missing_docs)] // onnx.proto's fields, by number: documented there
#[derive(Clone, PartialEq, Message)]
pub struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<Dimension>,
}

/// onnx.proto's `Dimension`.
#[allow(missing_docs)] // onnx.proto's fields, by number: documented there
#[derive(Clone, PartialEq, Message)]
pub struct Dimension {
    #[prost(int64, optional, tag = "1")]
    pub dim_value: Option<i64>,
    #[prost(string, optional, tag = "2")]
    pub dim_param: Option<String>,
}

fn tensor(name: &str, dims: &[usize], data: &[f32]) -> TensorProto {
    TensorProto {
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: FLOAT,
        float_data: data.to_vec(),
        name: name.to_owned(),
    }
}

/// A float matrix `[batch × width]` with a symbolic batch.
fn batch_of(name: &str, width: usize, doc: &str) -> ValueInfoProto {
    ValueInfoProto {
        name: name.to_owned(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: FLOAT,
                shape: Some(TensorShapeProto {
                    dim: vec![
                        Dimension {
                            dim_value: None,
                            dim_param: Some("batch".to_owned()),
                        },
                        Dimension {
                            dim_value: Some(width as i64),
                            dim_param: None,
                        },
                    ],
                }),
            }),
        }),
        doc_string: doc.to_owned(),
    }
}

fn node(op: &str, inputs: &[&str], output: &str) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| (*s).to_owned()).collect(),
        output: vec![output.to_owned()],
        name: output.to_owned(),
        op_type: op.to_owned(),
    }
}

/// The model's bytes; `metadata` goes to `metadata_props` as it is.
pub fn model(actor: &DeterministicActor, metadata: &[(String, String)], doc: &str) -> Vec<u8> {
    let mut nodes = Vec::new();
    let mut init = Vec::new();
    let mut x = INPUT.to_owned();
    let last = actor.layers.len() - 1;
    for (i, l) in actor.layers.iter().enumerate() {
        let (w, b, y) = (
            format!("l{i}.weight"),
            format!("l{i}.bias"),
            format!("l{i}"),
        );
        init.push(tensor(&w, &[l.inputs, l.outputs], &l.weight));
        init.push(tensor(&b, &[l.outputs], &l.bias));
        // Y = X·W + b with W stored [in × out]: Gemm's defaults (no transposes, α = β = 1).
        nodes.push(node("Gemm", &[&x, &w, &b], &y));
        x = y;
        if i < last {
            let r = format!("l{i}.relu");
            nodes.push(node("Relu", &[&x], &r));
            x = r;
        }
    }
    init.push(tensor("action_scale", &[actor.act_dim()], &actor.scale));
    init.push(tensor("action_bias", &[actor.act_dim()], &actor.bias));
    nodes.push(node("Tanh", &[&x], "squashed"));
    nodes.push(node("Mul", &["squashed", "action_scale"], "scaled"));
    nodes.push(node("Add", &["scaled", "action_bias"], OUTPUT));
    let graph = GraphProto {
        node: nodes,
        name: "deterministic_actor".to_owned(),
        initializer: init,
        input: vec![batch_of(
            INPUT,
            actor.obs_dim(),
            "observations, one per row",
        )],
        output: vec![batch_of(
            OUTPUT,
            actor.act_dim(),
            "actions in the env's units: tanh(μ(s))·scale + bias",
        )],
    };
    ModelProto {
        ir_version: IR_VERSION,
        producer_name: "virel-lab".to_owned(),
        producer_version: env!("CARGO_PKG_VERSION").to_owned(),
        doc_string: doc.to_owned(),
        graph: Some(graph),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        metadata_props: metadata
            .iter()
            .map(|(k, v)| StringStringEntryProto {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
    }
    .encode_to_vec()
}
