//! Context settings through `Context::builder` (`cuda_init_ex`): the values
//! the library refuses, and the log function. None of these needs a model
//! that generates, and none touches the environment (tests share it).

use std::sync::{Arc, Mutex};

use worker_cuda::{Context, CpuIsa, CpuWeights, CudaError, LogLevel, DEVICE_CPU};

fn refused(error: CudaError, expected: &str) {
    assert!(matches!(error, CudaError::InvalidParameter(_)), "{error:?}");
    assert!(
        error.detail().contains(expected),
        "{error:?} lacks '{expected}'"
    );
}

#[test]
fn every_setting_is_accepted_on_the_cpu_device() {
    let ctx = Context::builder(DEVICE_CPU)
        .cpu_threads(2)
        .cpu_isa(CpuIsa::Scalar)
        .cuda_graphs(false)
        .cuda_staging_bytes(1 << 16)
        .health_timeout_ms(500)
        .cpu_weights(CpuWeights::Private)
        .log_level(LogLevel::None)
        .build()
        .expect("CPU context with settings");
    assert_eq!(ctx.check_device_health(), Ok(true));
    let defaults = Context::builder(DEVICE_CPU)
        .build()
        .expect("CPU context with defaults");
    assert_eq!(defaults.check_device_health(), Ok(true));
}

#[test]
fn values_out_of_range_are_refused_naming_field_and_value() {
    let build = |builder: worker_cuda::ContextBuilder| builder.build().unwrap_err();
    refused(
        build(Context::builder(DEVICE_CPU).cpu_threads(1025)),
        "params->cpu_threads is 1025",
    );
    refused(
        build(Context::builder(DEVICE_CPU).cpu_threads(u32::MAX)),
        "params->cpu_threads is 2147483647",
    );
    refused(
        build(Context::builder(DEVICE_CPU).cuda_staging_bytes(1000)),
        "params->cuda_staging_bytes is 1000",
    );
    refused(
        build(Context::builder(DEVICE_CPU).health_timeout_ms(3_600_001)),
        "params->health_timeout_ms is 3600001",
    );
}

#[test]
fn zero_is_the_default_as_in_c() {
    let ctx = Context::builder(DEVICE_CPU)
        .cpu_threads(0)
        .cuda_staging_bytes(0)
        .health_timeout_ms(0)
        .build()
        .expect("CPU context with every count at its default");
    assert_eq!(ctx.check_device_health(), Ok(true));
}

#[test]
fn a_bad_device_is_still_a_device_error() {
    let error = Context::builder(-5).build().unwrap_err();
    assert!(matches!(error, CudaError::InvalidDevice(_)), "{error:?}");
}

type Messages = Arc<Mutex<Vec<(LogLevel, String)>>>;

fn collecting(level: LogLevel) -> (Context, Messages) {
    let messages: Messages = Arc::default();
    let sink = Arc::clone(&messages);
    let ctx = Context::builder(DEVICE_CPU)
        .log(level, move |level, text| {
            sink.lock().unwrap().push((level, text.to_owned()))
        })
        .build()
        .expect("CPU context with a log function");
    (ctx, messages)
}

#[test]
fn the_log_function_receives_the_messages_up_to_its_level() {
    let (ctx, messages) = collecting(LogLevel::Info);
    assert!(ctx.load_model("/nonexistent/settings.gguf").is_err());
    let received = messages.lock().unwrap().clone();
    assert!(!received.is_empty(), "no message reached the log function");
    assert_eq!(received[0].0, LogLevel::Info);
    assert!(
        received[0].1.contains("load '/nonexistent/settings.gguf'"),
        "{received:?}"
    );

    let (quiet, messages) = collecting(LogLevel::Warn);
    assert!(quiet.load_model("/nonexistent/settings.gguf").is_err());
    assert!(messages.lock().unwrap().is_empty());
}

#[test]
fn a_panic_in_the_log_function_does_not_cross_into_the_library() {
    let ctx = Context::builder(DEVICE_CPU)
        .log(LogLevel::Debug, |_, _| panic!("the log function failed"))
        .build()
        .expect("CPU context");
    let error = ctx.load_model("/nonexistent/panic.gguf").unwrap_err();
    assert!(matches!(error, CudaError::ModelLoadFailed(_)), "{error:?}");
}

#[test]
fn a_context_with_a_log_function_moves_between_threads() {
    let (ctx, messages) = collecting(LogLevel::Info);
    std::thread::spawn(move || {
        assert!(ctx.load_model("/nonexistent/thread.gguf").is_err());
    })
    .join()
    .unwrap();
    assert!(!messages.lock().unwrap().is_empty());
}
