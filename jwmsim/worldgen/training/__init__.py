"""Everything WorldGen needs besides inference: training data (clips written from procedural towns
and the real log: :mod:`.prepare`, :mod:`.town_clips`, :mod:`.real_clips`, :mod:`.perturb`,
:mod:`.lane_change`, :mod:`.dataset`), the training stages (:mod:`.train`: teacher forcing, ODE
distillation with :mod:`.ode_pairs`, DMD in :mod:`.dmd`), and the evaluation (:mod:`.eval_set`,
:mod:`.evaluate`, :mod:`.generators`, :mod:`.gen_metrics`, :mod:`.heldout_psnr`). Inference imports
nothing from here."""
