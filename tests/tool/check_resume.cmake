# Resuming a run gives the same result as not stopping: train N steps in one go, and SPLIT + the
# rest with --resume in between; the two checkpoints (every tensor, the optimizer state and the
# metadata) must be byte-identical, and so must the metrics logs minus the timing column.
# Called by CTest with -DJEPA=<jepa tool> -DCOMMAND=<train-ijepa|train-vjepa> -DFLAGS=<;-list>
# -DSPLIT=<steps before the stop> -DWORK_DIR=<scratch dir>; WORK_DIR/straight keeps the finished run.
file(REMOVE_RECURSE "${WORK_DIR}")
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGV}\n${out}\n${err}")
  endif()
endfunction()
run(${JEPA} ${COMMAND} --out ${WORK_DIR}/straight ${FLAGS})
run(${JEPA} ${COMMAND} --out ${WORK_DIR}/split ${FLAGS} --max-steps ${SPLIT})
run(${JEPA} ${COMMAND} --resume ${WORK_DIR}/split --threads 2)
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK_DIR}/straight/checkpoint.safetensors
                        ${WORK_DIR}/split/checkpoint.safetensors RESULT_VARIABLE differ)
if(differ)
  message(FATAL_ERROR "the resumed run's checkpoint differs from the uninterrupted run's")
endif()
foreach(dir straight split)
  file(STRINGS ${WORK_DIR}/${dir}/metrics.jsonl lines)
  list(TRANSFORM lines REPLACE ",\"items_per_s\":[^}]*" "")
  set(metrics_${dir} "${lines}")
endforeach()
if(NOT metrics_straight STREQUAL metrics_split)
  message(FATAL_ERROR "metrics differ:\n${metrics_straight}\nvs\n${metrics_split}")
endif()
list(LENGTH metrics_split n)
message(STATUS "${COMMAND}: resume matches the uninterrupted run over ${n} steps")
