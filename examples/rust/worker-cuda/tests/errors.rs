//! Error mapping and the failure paths of the safe API; none of these needs
//! a model that generates.

use worker_cuda::{Context, CudaError, CudaErrorCode, DEVICE_CPU};
use worker_cuda_sys as sys;

const ALL_CODES: [(CudaErrorCode, u32); 10] = [
    (CudaErrorCode::Success, sys::CUDA_SUCCESS),
    (CudaErrorCode::InvalidDevice, sys::CUDA_ERROR_INVALID_DEVICE),
    (CudaErrorCode::OutOfMemory, sys::CUDA_ERROR_OUT_OF_MEMORY),
    (
        CudaErrorCode::ModelLoadFailed,
        sys::CUDA_ERROR_MODEL_LOAD_FAILED,
    ),
    (
        CudaErrorCode::InferenceFailed,
        sys::CUDA_ERROR_INFERENCE_FAILED,
    ),
    (
        CudaErrorCode::InvalidParameter,
        sys::CUDA_ERROR_INVALID_PARAMETER,
    ),
    (
        CudaErrorCode::KernelLaunchFailed,
        sys::CUDA_ERROR_KERNEL_LAUNCH_FAILED,
    ),
    (
        CudaErrorCode::VramResidencyFailed,
        sys::CUDA_ERROR_VRAM_RESIDENCY_FAILED,
    ),
    (
        CudaErrorCode::DeviceNotFound,
        sys::CUDA_ERROR_DEVICE_NOT_FOUND,
    ),
    (CudaErrorCode::Unknown, sys::CUDA_ERROR_UNKNOWN),
];

#[test]
fn codes_have_the_c_values() {
    let fixed = [0, 1, 2, 3, 4, 5, 6, 7, 8, 99];
    for ((code, c_value), fixed) in ALL_CODES.into_iter().zip(fixed) {
        assert_eq!(code.raw(), fixed);
        assert_eq!(code.raw(), c_value as i32);
        assert_eq!(CudaErrorCode::from_raw(fixed), Some(code));
    }
    assert_eq!(CudaErrorCode::from_raw(9), None);
    assert_eq!(CudaErrorCode::from_raw(-1), None);
}

#[test]
fn codes_carry_the_library_message() {
    assert_eq!(CudaErrorCode::Success.message(), "success");
    assert_eq!(
        CudaErrorCode::ModelLoadFailed.message(),
        "model load failed"
    );
    assert_eq!(
        CudaErrorCode::DeviceNotFound.to_string(),
        "no CUDA device found"
    );
    for (code, _) in ALL_CODES {
        assert_ne!(code.message(), "unknown error code", "{code:?}");
    }
}

#[test]
fn from_code_maps_every_failure_code_to_its_variant() {
    for (code, _) in &ALL_CODES[1..] {
        let error = CudaError::from_code(code.raw());
        assert_eq!(error.code(), *code);
    }
    assert!(matches!(
        CudaError::from_code(3),
        CudaError::ModelLoadFailed(_)
    ));
    assert!(matches!(
        CudaError::from_code(8),
        CudaError::DeviceNotFound(_)
    ));
    // Not failure codes: reported as Unknown, never as a success.
    assert_eq!(CudaError::from_code(0).code(), CudaErrorCode::Unknown);
    assert_eq!(CudaError::from_code(1234).code(), CudaErrorCode::Unknown);
}

#[test]
fn from_code_takes_the_detail_of_the_last_failed_call() {
    let error = Context::new(-7).unwrap_err();
    assert!(matches!(error, CudaError::InvalidDevice(_)), "{error:?}");
    assert!(!error.detail().is_empty());
    // The detail is still there for a later from_code on the same thread.
    let again = CudaError::from_code(CudaErrorCode::InvalidDevice.raw());
    assert_eq!(again, error);
}

#[test]
fn errors_display_kind_and_detail() {
    let error = CudaError::with_detail(CudaErrorCode::ModelLoadFailed, "file 'x' is missing");
    assert_eq!(error.to_string(), "model load failed: file 'x' is missing");
    assert_eq!(error.detail(), "file 'x' is missing");
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(error);
    assert!(boxed.to_string().contains("missing"));
}

#[test]
fn a_gpu_that_is_not_there_is_reported() {
    let devices = Context::device_count();
    assert!(devices >= 0);
    if devices == 0 {
        let error = Context::new(0).unwrap_err();
        assert!(matches!(error, CudaError::DeviceNotFound(_)), "{error:?}");
        assert!(!error.detail().is_empty());
    } else {
        let error = Context::new(devices).unwrap_err();
        assert!(matches!(error, CudaError::InvalidDevice(_)), "{error:?}");
    }
}

#[test]
fn the_cpu_device_is_healthy() {
    let ctx = Context::new(DEVICE_CPU).expect("CPU context");
    assert_eq!(ctx.check_device_health(), Ok(true));
    assert!(
        ctx.process_vram_usage() > 0,
        "resident set size of this process"
    );
}

#[test]
fn missing_and_malformed_models_fail_to_load() {
    let ctx = Context::new(DEVICE_CPU).unwrap();
    let missing = ctx.load_model("/nonexistent/model.gguf").unwrap_err();
    assert!(
        matches!(missing, CudaError::ModelLoadFailed(_)),
        "{missing:?}"
    );
    assert!(
        missing.detail().contains("/nonexistent/model.gguf"),
        "{missing:?}"
    );

    let directory = ctx.load_model(env!("CARGO_MANIFEST_DIR")).unwrap_err();
    assert!(
        matches!(directory, CudaError::ModelLoadFailed(_)),
        "{directory:?}"
    );

    let not_gguf = ctx
        .load_model(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .unwrap_err();
    assert!(
        matches!(not_gguf, CudaError::ModelLoadFailed(_)),
        "{not_gguf:?}"
    );

    // The context stays usable after failures.
    assert_eq!(ctx.check_device_health(), Ok(true));
}

#[test]
fn a_path_with_a_nul_byte_is_an_invalid_parameter() {
    let ctx = Context::new(DEVICE_CPU).unwrap();
    let error = ctx.load_model("model\0.gguf").unwrap_err();
    assert!(matches!(error, CudaError::InvalidParameter(_)), "{error:?}");
    assert!(error.detail().contains("NUL"));
}

#[test]
fn contexts_work_from_other_threads() {
    let ctx = Context::new(DEVICE_CPU).unwrap();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                assert_eq!(ctx.check_device_health(), Ok(true));
                let error = ctx.load_model("/nonexistent.gguf").unwrap_err();
                assert_eq!(error.code(), CudaErrorCode::ModelLoadFailed);
            });
        }
    });
    // A context can also move to another thread and be dropped there.
    std::thread::spawn(move || drop(ctx)).join().unwrap();
}
