/**
 * The one entry point that loads every built-in component: importing a component module
 * registers it. The engine reaches concrete components only through this file.
 */
import './blocks/BottomConv.js';
import './blocks/DoubleConv.js';
import './blocks/Down.js';
import './blocks/SelfAttention.js';
import './blocks/Up.js';
import './callbacks/checkpoint.js';
import './callbacks/ema.js';
import './callbacks/eval.js';
import './callbacks/sample-images.js';
import './datasets/mnist.js';
import './models/MnistClassifier.js';
import './models/UNet.js';
import './optimizers/adam.js';
import './samplers/ddim.js';
import './samplers/ddpm.js';
import './schedules/cosine.js';
import './schedules/linear.js';
import './trainers/classifier.js';
import './trainers/diffusion.js';
