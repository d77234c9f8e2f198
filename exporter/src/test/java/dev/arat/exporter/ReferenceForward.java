package dev.arat.exporter;

import dev.arat.specs.ArchitectureSpec;
import dev.arat.specs.LayerSpec;
import dev.arat.specs.Tensor;
import java.util.List;
import java.util.Map;

/**
 * A deliberately naive, independent interpreter of an {@link ArchitectureSpec} in double precision
 * (inference mode, one BN branch), used as ground truth for the exported graph: it shares no code
 * with the exporter, so a wiring error (a shortcut reading the wrong tensor, a missing {@code pre})
 * shows up as a logit mismatch. Activations are {@code double[]} in CHW (or F) per image.
 */
final class ReferenceForward {
  private final ArchitectureSpec arch;
  private final Map<String, Tensor> w;
  private final String branch;

  ReferenceForward(ArchitectureSpec arch, Map<String, Tensor> weights, String branch) {
    this.arch = arch;
    this.w = weights;
    this.branch = branch;
  }

  /** Activation of one image: shape (c,h,w) or (f) when h == 0. */
  private record Act(double[] v, int c, int h, int w) {}

  /** Logits {@code (n,K)} of images {@code (n,C,H,W)}. */
  float[] logits(float[] images, int n) {
    int per = arch.channels() * arch.height() * arch.width();
    int hw = arch.height() * arch.width();
    float[] out = new float[n * arch.numClasses()];
    for (int i = 0; i < n; i++) {
      double[] x = new double[per];
      for (int j = 0; j < per; j++) {
        int c = j / hw;
        x[j] = (images[i * per + j] - arch.mean()[c]) / (double) arch.std()[c];
      }
      Act a = run(arch.layers(), new Act(x, arch.channels(), arch.height(), arch.width()));
      for (int k = 0; k < arch.numClasses(); k++) {
        out[i * arch.numClasses() + k] = (float) a.v[k];
      }
    }
    return out;
  }

  private Act run(List<LayerSpec> ls, Act a) {
    for (LayerSpec l : ls) {
      a = one(l, a);
    }
    return a;
  }

  private Act one(LayerSpec l, Act a) {
    if (l instanceof LayerSpec.Conv c) {
      float[] k = w.get(c.name() + ".weight").data();
      float[] b = c.bias() ? w.get(c.name() + ".bias").data() : null;
      int ks = c.kernel();
      int oh = (a.h + 2 * c.padding() - ks) / c.stride() + 1;
      int ow = (a.w + 2 * c.padding() - ks) / c.stride() + 1;
      double[] o = new double[c.outChannels() * oh * ow];
      int st = c.stride();
      int pad = c.padding();
      for (int oc = 0; oc < c.outChannels(); oc++) {
        int ob = oc * oh * ow;
        if (b != null) {
          java.util.Arrays.fill(o, ob, ob + oh * ow, b[oc]);
        }
        for (int ic = 0; ic < a.c; ic++) {
          for (int ky = 0; ky < ks; ky++) {
            for (int kx = 0; kx < ks; kx++) {
              double kv = k[((oc * a.c + ic) * ks + ky) * ks + kx];
              for (int y = 0; y < oh; y++) {
                int iy = y * st - pad + ky;
                if (iy < 0 || iy >= a.h) {
                  continue;
                }
                int irow = (ic * a.h + iy) * a.w;
                int orow = ob + y * ow;
                for (int x = 0; x < ow; x++) {
                  int ix = x * st - pad + kx;
                  if (ix >= 0 && ix < a.w) {
                    o[orow + x] += kv * a.v[irow + ix];
                  }
                }
              }
            }
          }
        }
      }
      return new Act(o, c.outChannels(), oh, ow);
    } else if (l instanceof LayerSpec.BatchNorm bn) {
      String p = bn.name() + "." + branch + ".";
      float[] g = w.get(p + "weight").data();
      float[] be = w.get(p + "bias").data();
      float[] m = w.get(p + "running_mean").data();
      float[] v = w.get(p + "running_var").data();
      int spatial = a.h == 0 ? 1 : a.h * a.w;
      double[] o = new double[a.v.length];
      for (int i = 0; i < o.length; i++) {
        int ch = i / spatial;
        o[i] = (a.v[i] - m[ch]) / Math.sqrt(v[ch] + arch.bnEpsilon()) * g[ch] + be[ch];
      }
      return new Act(o, a.c, a.h, a.w);
    } else if (l instanceof LayerSpec.Relu) {
      double[] o = a.v.clone();
      for (int i = 0; i < o.length; i++) {
        o[i] = Math.max(0, o[i]);
      }
      return new Act(o, a.c, a.h, a.w);
    } else if (l instanceof LayerSpec.GlobalAvgPool) {
      double[] o = new double[a.c];
      for (int ch = 0; ch < a.c; ch++) {
        double s = 0;
        for (int i = 0; i < a.h * a.w; i++) {
          s += a.v[ch * a.h * a.w + i];
        }
        o[ch] = s / (a.h * a.w);
      }
      return new Act(o, a.c, 1, 1);
    } else if (l instanceof LayerSpec.Flatten) {
      return new Act(a.v, a.v.length, 0, 0);
    } else if (l instanceof LayerSpec.Linear lin) {
      float[] k = w.get(lin.name() + ".weight").data();
      float[] b = lin.bias() ? w.get(lin.name() + ".bias").data() : null;
      double[] o = new double[lin.outFeatures()];
      for (int i = 0; i < o.length; i++) {
        double s = b == null ? 0 : b[i];
        for (int j = 0; j < a.v.length; j++) {
          s += k[i * a.v.length + j] * a.v[j];
        }
        o[i] = s;
      }
      return new Act(o, o.length, 0, 0);
    } else if (l instanceof LayerSpec.MaxPool mp) {
      int oh = (a.h - mp.kernel()) / mp.stride() + 1;
      int ow = (a.w - mp.kernel()) / mp.stride() + 1;
      double[] o = new double[a.c * oh * ow];
      for (int ch = 0; ch < a.c; ch++) {
        for (int y = 0; y < oh; y++) {
          for (int x = 0; x < ow; x++) {
            double m = Double.NEGATIVE_INFINITY;
            for (int ky = 0; ky < mp.kernel(); ky++) {
              for (int kx = 0; kx < mp.kernel(); kx++) {
                m =
                    Math.max(
                        m, a.v[(ch * a.h + y * mp.stride() + ky) * a.w + x * mp.stride() + kx]);
              }
            }
            o[(ch * oh + y) * ow + x] = m;
          }
        }
      }
      return new Act(o, a.c, oh, ow);
    } else if (l instanceof LayerSpec.Residual r) {
      Act pre = run(r.pre(), a);
      Act body = run(r.body(), pre);
      Act sc = run(r.shortcut(), r.shortcutFromPre() ? pre : a);
      double[] o = new double[body.v.length];
      for (int i = 0; i < o.length; i++) {
        o[i] = body.v[i] + sc.v[i];
      }
      return new Act(o, body.c, body.h, body.w);
    }
    throw new IllegalArgumentException("unsupported " + l);
  }
}
